"""What there is to query: databases (the layers), their tables, and one table described in full.

Without the Glue catalog the registry and the warehouse answer; with it, each row also says under which Glue
name Athena sees the table and whether it is registered there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lakehouse.catalog.glue import catalog_for
from lakehouse.config import Settings
from lakehouse.query.names import UnknownTableError, resolve, unknown_table
from lakehouse.query.tables import DATABASES, QueryTable, known_tables
from lakehouse.storage.table_metadata import TableMetadata


def _glue_tables(settings: Settings) -> set[str] | None:
    """{"<db>.<table>"} registered in Glue, or None when the catalog is off."""
    catalog = catalog_for(settings)
    if catalog is None:
        return None
    return {f"{t['database']}.{t['name']}" for t in catalog.list_tables()}


def list_databases(settings: Settings) -> pa.Table:
    known, glue = known_tables(settings), _glue_tables(settings)
    rows = []
    for layer in DATABASES:
        tables = [t for t in known.values() if t.layer == layer]
        row = {"database": layer, "tables": len(tables)}
        if glue is not None:
            database = settings.glue_database(layer).lower()
            row.update(glue_database=database, registered=sum(1 for g in glue if g.startswith(database + ".")))
        rows.append(row)
    return pa.Table.from_pylist(rows)


def list_tables(settings: Settings, layer: str | None = None) -> pa.Table:
    """Registry tables (all) and quarantine tables (those holding data), with format, partitions, location."""
    if layer is not None and layer not in DATABASES:
        raise UnknownTableError(f"unknown database {layer!r}; databases are {', '.join(DATABASES)}")
    store, glue = TableMetadata(settings), _glue_tables(settings)
    rows = []
    for table in known_tables(settings).values():
        if layer is not None and table.layer != layer:
            continue
        partitions = store.partitions(table.uri(settings), table.format)
        if table.is_quarantine and not partitions:
            continue  # one per table would mostly list empty quarantines
        row = {"table": table.id, "format": table.format, "partitions": len(partitions),
               "last_partition": partitions[-1] if partitions else None, "location": table.uri(settings)}
        if glue is not None:
            name = table.glue_name(settings)
            row["glue_table"] = name if name in glue else None
        rows.append(row)
    return pa.Table.from_pylist(rows)


@dataclass
class TableDescription:
    table: QueryTable
    location: str
    glue_table: str | None
    columns: pa.Table  # column, type, pii, description
    partitions: list[str] = field(default_factory=list)
    delta_version: int | None = None
    has_data: bool = False


def find_table(name: str, settings: Settings) -> QueryTable:
    """A table named as `layer.table`, its Glue name, or a bare registry name that is unique."""
    known = known_tables(settings)
    if "." not in name:
        matches = [t for t in known.values() if t.name == name.lower()]
        if len(matches) == 1:
            return matches[0]
    try:
        node = sqlglot.parse_one(name, into=exp.Table, read="duckdb")
    except (ParseError, TokenError):  # TokenError: an unclosed quote (silver."orders)
        node = None
    if not isinstance(node, exp.Table):  # "a; b" parses as a block of statements
        raise UnknownTableError(f"{name!r} is not a table name (use layer.table, e.g. silver.orders)")
    found = resolve(node, settings, known)
    if found is None:
        raise unknown_table(node, known)
    return found


def describe(name: str, settings: Settings) -> TableDescription:
    """Columns and types as stored (declared ones when there is no data yet), partitions, version, PII."""
    table = find_table(name, settings)
    store, uri = TableMetadata(settings), table.uri(settings)
    schema = store.schema(uri, table.format)
    notes = {c.name: c.description for c in table.spec.columns} if not table.is_quarantine else {}
    if schema is not None:
        columns = [(f.name, str(f.type)) for f in schema]
    elif table.is_quarantine:
        from lakehouse.quality.quarantine import QUARANTINE_SCHEMA

        columns = [(f.name, str(f.type)) for f in QUARANTINE_SCHEMA]
    else:
        columns = [(c.name, f"{c.type} (declared)") for c in table.spec.columns]
    pii = set(table.pii)
    rows = [{"column": n, "type": t, "pii": n in pii, "description": notes.get(n) or None} for n, t in columns]
    glue = _glue_tables(settings)
    glue_name = table.glue_name(settings)
    return TableDescription(
        table=table, location=uri, glue_table=glue_name if glue is not None and glue_name in glue else None,
        columns=pa.Table.from_pylist(rows, schema=pa.schema([("column", pa.string()), ("type", pa.string()),
                                                             ("pii", pa.bool_()), ("description", pa.string())])),
        partitions=store.partitions(uri, table.format) if schema is not None else [],
        delta_version=store.version(uri, table.format) if schema is not None else None,
        has_data=schema is not None,
    )
