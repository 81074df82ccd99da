"""Shorthands every domain declares its tables with, so a rule or a lineage column is spelled once."""
from __future__ import annotations

from typing import Iterable

from lakehouse.model.spec import Column, LandingSource, RowRule, TableSpec

# The columns bronze adds to every landed row, carried on by silver (a database export names its table instead).
LINEAGE = (Column("_source_file", "string", "Landing file the row came from."),
           Column("_line_number", "bigint", "Line of the row in that file."),
           Column("dt", "string", "Day the rows arrived (partition).", required=True))
DT_COLUMN = Column("dt", "string", "Partition day.", required=True)


# Keeps the latest version of a re-sent record (TableSpec.version_key); the others go to quarantine.
LATEST_VERSION = RowRule("latest_version", "__version_rank = 1", "drop")


def strings(*names: str, required: tuple[str, ...] = ()) -> tuple[Column, ...]:
    """Bronze columns: every value kept as received, as a string."""
    return tuple(Column(n, "string", required=n in required) for n in names)


def landed(domain: str, name: str, source: str, entity: str, fmt: str, description: str,
           columns: tuple[Column, ...], pii: Iterable[str] = ()) -> TableSpec:
    """A bronze table fed by files landing under <landing>/<source>/<entity>/dt=<day>/."""
    return TableSpec(layer="bronze", domain=domain, name=name, description=description, columns=columns,
                     landing=LandingSource(source, entity, fmt), pii=tuple(pii))


def present(*cols: str) -> list[RowRule]:
    """Rows missing any of these columns go to quarantine, one rule per column (`<col>_present`)."""
    return [RowRule(f"{col}_present", f"{col} is not null", "drop") for col in cols]


def sql_in(values: Iterable[str]) -> str:
    """('a', 'b'): a SQL list of string literals for a rule's `in`."""
    return "(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + ")"
