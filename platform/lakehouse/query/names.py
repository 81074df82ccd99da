"""Which table a name in a query means: a CTE visible at that point, a registry table, or nothing at all."""
from __future__ import annotations

import difflib

from sqlglot import exp

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError
from lakehouse.query.tables import DATABASES, QueryTable, known_tables


class UnknownTableError(LakehouseError):
    """The query names a table that is not in the registry."""


def _with_of(query: exp.Expression) -> exp.With | None:
    return query.args.get("with_") or query.args.get("with")  # the key's name changed in sqlglot 28


def names_cte(table: exp.Table) -> bool:
    """Whether an unqualified table name means a CTE at that point of the query.

    A CTE is visible in the body of the query that defines it and, inside the WITH, only to the CTEs after
    it (and to itself when RECURSIVE). So in `WITH pg_settings AS (SELECT * FROM pg_settings)` the inner
    name is the engine's view, not the CTE. Anything not certainly a CTE is treated as a table (and refused
    unless it is a lakehouse table), so a wrong guess can only refuse a query, never let one through.
    """
    if table.db or table.catalog:
        return False
    name = table.name.lower()
    node: exp.Expression = table
    while node.parent is not None:
        parent = node.parent
        if isinstance(parent, exp.With):  # node is one of this WITH's CTEs
            ctes = parent.expressions
            position = next(i for i, cte in enumerate(ctes) if cte is node)
            visible = ctes[: position + 1] if parent.args.get("recursive") else ctes[:position]
            if any(cte.alias_or_name.lower() == name for cte in visible):
                return True
        elif _with_of(parent) is not None and _with_of(parent) is not node:
            if any(cte.alias_or_name.lower() == name for cte in _with_of(parent).expressions):
                return True
        node = parent
    return False


def resolve(table: exp.Table, settings: Settings, known: dict[str, QueryTable] | None = None) -> QueryTable | None:
    """The registry table a reference means: `layer.table` or the Glue name `<prefix>_<layer>.table`."""
    known = known if known is not None else known_tables(settings)
    catalog, db, name = table.catalog.lower(), table.db.lower(), table.name.lower()
    if catalog and catalog != "awsdatacatalog":
        return None
    layer = db
    prefix = (settings.glue_prefix or "").lower()
    if prefix and db.startswith(prefix + "_") and db[len(prefix) + 1:] in DATABASES:
        layer = db[len(prefix) + 1:]
    return known.get(f"{layer}.{name}")


def unknown_table(table: exp.Table, known: dict[str, QueryTable]) -> UnknownTableError:
    ref = ".".join(p for p in (table.catalog, table.db, table.name) if p)
    close = difflib.get_close_matches(ref.lower(), list(known), n=3, cutoff=0.6)
    if not close and not table.db:
        close = [k for k in known if k.endswith("." + table.name.lower())]
    hint = (f"did you mean {', '.join(close)}?" if close
            else "known tables: " + ", ".join(k for k, t in known.items() if not t.is_quarantine)
            + " (and quarantine.<layer>_<table>)")
    return UnknownTableError(f"unknown table {ref!r}: name tables as layer.table (e.g. silver.orders); {hint}")
