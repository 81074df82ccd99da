"""The gate every statement passes before an engine sees it: one read-only query over known tables.

The engines lock themselves down too (DuckDB without file access); this is the first line, and the one that
gives a person a message saying what was refused and why.
"""
from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError, ReadOnlyQueryError
from lakehouse.query.tables import DATABASES, QueryTable, known_tables

READ_DIALECT = "duckdb"  # queries are written in DuckDB's SQL; Athena gets them transpiled

# Statement kinds that change data, schema, settings or the engine; any of them anywhere in the tree is refused.
_WRITES = tuple(getattr(exp, name) for name in (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "AlterColumn", "TruncateTable", "Copy",
    "Attach", "Detach", "Set", "Pragma", "Install", "Use", "Command", "Transaction", "Commit", "Rollback",
    "Describe", "Show", "Analyze", "LoadData", "Grant", "Revoke", "Export", "Cache", "Uncache", "Refresh",
) if hasattr(exp, name))

# Functions that read files, URLs, the environment or engine state, refused wherever they appear.
_DENIED_FUNCTION = re.compile(
    r"^(read_\w+|glob|\w+_scan|sniff_csv|parquet_\w+|getenv|query|query_table|current_setting|duckdb_\w+"
    r"|pragma_\w+|which_secret|load_aws_credentials|json_execute_serialized_sql|sqlite_\w+|postgres_\w+"
    r"|mysql_\w+|iceberg_\w+|delta_\w+|http_\w+|unnest_file)$",
    re.IGNORECASE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TOKEN = re.compile(r"<Token token_type: [^>]*?, text: (.*?), line: [^>]*>")  # sqlglot's Token repr


class QuerySyntaxError(LakehouseError):
    """The SQL does not parse."""


class UnknownTableError(LakehouseError):
    """The query names a table that is not in the registry."""


@dataclass
class CheckedQuery:
    """A parsed read-only query and the registry table behind each table reference in it."""

    sql: str
    tree: exp.Query
    refs: list[tuple[exp.Table, QueryTable]]

    @property
    def tables(self) -> list[QueryTable]:
        seen: dict[str, QueryTable] = {}
        for _, table in self.refs:
            seen.setdefault(table.id, table)
        return list(seen.values())


def _parse(sql: str) -> list[exp.Expression]:
    sqlglot_log = logging.getLogger("sqlglot")
    level = sqlglot_log.level
    sqlglot_log.setLevel(logging.ERROR)  # "falling back to Command" warnings: we refuse those anyway
    try:
        return [e for e in sqlglot.parse(sql, read=READ_DIALECT) if e is not None]
    except (ParseError, TokenError) as exc:
        first = (sql.strip().split(None, 1) or [""])[0].upper()
        if first in {"EXPORT", "IMPORT", "VACUUM", "CHECKPOINT", "DETACH", "LOAD", "FORCE", "UPDATE_EXTENSIONS"}:
            raise ReadOnlyQueryError(f"refused: {first} statement; only read-only queries "
                                     "(SELECT, WITH ... SELECT, UNION ...) are allowed") from None
        detail = exc.errors[0] if isinstance(exc, ParseError) and exc.errors else None
        if detail:
            description = _TOKEN.sub(lambda m: repr(m.group(1)), detail["description"])
            message = f"{description} (line {detail['line']}, column {detail['col']})"
        else:
            message = _ANSI.sub("", str(exc)).splitlines()[0]
        raise QuerySyntaxError(f"SQL does not parse: {message}") from None
    finally:
        sqlglot_log.setLevel(level)


def _kind(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper().replace("TRUNCATETABLE", "TRUNCATE")


def _refuse(what: str) -> ReadOnlyQueryError:
    return ReadOnlyQueryError(f"refused: {what}; only read-only queries (SELECT, WITH ... SELECT, UNION ...) "
                              "over lakehouse tables are allowed")


def _function_name(func: exp.Func) -> str:
    return func.name if isinstance(func, exp.Anonymous) else func.sql_name()


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


def check(sql: str, settings: Settings | None = None) -> CheckedQuery:
    """Parse `sql` and refuse anything but one read-only query over registry tables."""
    settings = settings or Settings.from_env()
    if not sql or not sql.strip():
        raise QuerySyntaxError("no SQL given")
    statements = _parse(sql)
    if len(statements) != 1:
        raise _refuse(f"{len(statements)} statements given, exactly one is allowed")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        # name the statement by its own keyword: sqlglot parses some (CHECKPOINT) as a bare column
        first = sql.strip().split(None, 1)[0].upper()
        raise _refuse(f"{first if first.isalpha() and first != 'WITH' else _kind(tree)} statement")
    for node in tree.walk():
        if isinstance(node, _WRITES):
            raise _refuse(f"{_kind(node)} inside the query")
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise _refuse("SELECT ... INTO (it creates a table)")
        if isinstance(node, exp.Func) and _DENIED_FUNCTION.match(_function_name(node)):
            raise _refuse(f"function {_function_name(node).lower()}() (it reads files, URLs or engine state)")

    known = known_tables(settings)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    refs: list[tuple[exp.Table, QueryTable]] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):  # read_csv(...), glob(...), range(...) as a table source
            source = table.this.sql(dialect=READ_DIALECT) if table.this is not None else table.sql()
            raise _refuse(f"table function {source} (only lakehouse tables can be read)")
        if not table.db and not table.catalog and table.name.lower() in ctes:
            continue
        resolved = resolve(table, settings, known)
        if resolved is None:
            raise unknown_table(table, known)
        refs.append((table, resolved))
    return CheckedQuery(sql, tree, refs)


def with_limit(tree: exp.Query, rows: int) -> exp.Query:
    """The query with an outer LIMIT of at most `rows`, so an engine can stop early; an existing smaller
    literal LIMIT is kept."""
    tree = tree.copy()
    current = tree.args.get("limit")
    value = current.args.get("expression") if isinstance(current, exp.Limit) else None
    if current is not None and not (isinstance(value, exp.Literal) and value.is_int):
        return tree  # LIMIT ALL / an expression / FETCH: leave it; the reader still stops at `rows`
    if current is None or int(value.this) > rows:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(rows)))
    return tree


def rewrite_tables(checked: CheckedQuery, target) -> exp.Query:
    """A copy of the query with each registry reference renamed to `target(table) -> (database, name)`;
    an alias the user gave is kept, so qualified columns still resolve."""
    tree = checked.tree.copy()
    originals = {id(node): table for node, table in checked.refs}
    # a copy has the same shape, so walking both in step pairs each node with its copy
    for node, copied in zip(checked.tree.find_all(exp.Table), tree.find_all(exp.Table)):
        table = originals.get(id(node))
        if table is not None:
            database, name = target(table)
            copied.set("catalog", None)
            copied.set("db", exp.to_identifier(database, quoted=True))
            copied.set("this", exp.to_identifier(name, quoted=True))
    return tree
