"""Which table a name in a query means: a CTE visible at that point, a registry table, or nothing at all.

Names are compared the way DuckDB compares them, because DuckDB decides what a name reads: case-insensitively
for ASCII letters and byte for byte otherwise (measured on DuckDB 2.0: `K` U+212A and `k`, `Ä` and `ä`, `ﬁ` and
`fi`, a precomposed `é` and e + U+0301 are different names to it). Python's own lower() or casefold() would
take the Kelvin sign for `k` and call `WITH ducKdb_views AS (...)` a CTE over `FROM duckdb_views`, which DuckDB
reads from its catalog. Two names equal only after Unicode normalisation (NFKC) and case folding are refused as
look-alikes: whichever way the engine reads them, the query does not mean what it seems to.
"""
from __future__ import annotations

import difflib
import string
import unicodedata

from sqlglot import exp

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError, ReadOnlyQueryError
from lakehouse.query.tables import DATABASES, QueryTable, known_tables

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class UnknownTableError(LakehouseError):
    """The query names a table that is not in the registry."""


def engine_name(name: str) -> str:
    """`name` as DuckDB compares identifiers: ASCII letters folded to lower case, nothing else."""
    return name.translate(_ASCII_LOWER)


def _lookalike(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def _with_of(query: exp.Expression) -> exp.With | None:
    return query.args.get("with_") or query.args.get("with")  # the key's name changed in sqlglot 28


def _in_recursive_term(cte: exp.CTE, path: list[exp.Expression]) -> bool:
    """Whether the reference that `path` climbed from sits in the recursive term of `cte`: DuckDB binds a recursive
    CTE's own name to the CTE only in the last branch of a UNION [ALL] that is the whole body; anywhere else (the
    first branch, a body that is a plain SELECT, an INTERSECT or EXCEPT, a UNION inside a subquery) the name
    means the catalog's table or view of that name."""
    body = cte.this
    return (isinstance(body, exp.Union) and len(path) >= 3 and path[-2] is body
            and path[-3] is body.args.get("expression"))


def _names_one_of(table: exp.Table, ctes: list[exp.CTE]) -> bool:
    name = engine_name(table.name)
    if any(engine_name(cte.alias_or_name) == name for cte in ctes):
        return True
    similar = next((cte.alias_or_name for cte in ctes if _lookalike(cte.alias_or_name) == _lookalike(table.name)), None)
    if similar is not None:
        raise ReadOnlyQueryError(f"refused: the table name {ascii(table.name)} and the CTE name {ascii(similar)} differ "
                                 "only in look-alike characters (Unicode compatibility forms or case), which DuckDB reads "
                                 "as different names; spell both the same way in plain letters")
    return False


def names_cte(table: exp.Table) -> bool:
    """Whether an unqualified table name means a CTE at that point of the query.

    A CTE is visible in the body of the query that defines it and, inside the WITH, only to the CTEs after
    it; under WITH RECURSIVE also to itself, but only in its recursive term (see _in_recursive_term). So in
    `WITH RECURSIVE pg_settings AS (SELECT * FROM pg_settings)` the inner name is the engine's view, not the CTE.
    Anything not certainly a CTE is treated as a table (and refused unless it is a lakehouse table), so a wrong
    guess can only refuse a query, never let one through.
    """
    if table.db or table.catalog:
        return False
    path: list[exp.Expression] = [table]
    node: exp.Expression = table
    while node.parent is not None:
        parent = node.parent
        if isinstance(parent, exp.With):  # node is one of this WITH's CTEs
            ctes = parent.expressions
            position = next(i for i, cte in enumerate(ctes) if cte is node)
            visible = list(ctes[:position])
            if parent.args.get("recursive") and _in_recursive_term(node, path):
                visible.append(node)
            if _names_one_of(table, visible):
                return True
        elif _with_of(parent) is not None and _with_of(parent) is not node:
            if _names_one_of(table, _with_of(parent).expressions):
                return True
        path.append(parent)
        node = parent
    return False


def resolve(table: exp.Table, settings: Settings, known: dict[str, QueryTable] | None = None) -> QueryTable | None:
    """The registry table a reference means: `layer.table` or the Glue name `<prefix>_<layer>.table`."""
    known = known if known is not None else known_tables(settings)
    catalog, db, name = engine_name(table.catalog), engine_name(table.db), engine_name(table.name)
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
