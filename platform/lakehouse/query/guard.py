"""The gate every statement passes before an engine sees it: one read-only query over known tables.

The engines lock themselves down too (DuckDB without file access); this is the first line, and the one that
gives a person a message saying what was refused and why.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError, ReadOnlyQueryError
from lakehouse.query.functions import call_text, is_allowed
from lakehouse.query.names import UnknownTableError, names_cte, resolve, unknown_table
from lakehouse.query.scopes import DEFAULT_SCOPES, check_access, masked_columns
from lakehouse.query.tables import QueryTable, known_tables

__all__ = ["CheckedQuery", "QuerySyntaxError", "QueryTooComplexError", "READ_DIALECT", "UnknownTableError", "check",
           "resolve", "too_deep", "unknown_table"]

READ_DIALECT = "duckdb"  # queries are written in DuckDB's SQL; Athena gets them transpiled

# Statement kinds that change data, schema, settings or the engine; any of them anywhere in the tree is refused.
_WRITES = tuple(getattr(exp, name) for name in (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "AlterColumn", "TruncateTable", "Copy",
    "Attach", "Detach", "Set", "Pragma", "Install", "Use", "Command", "Transaction", "Commit", "Rollback",
    "Describe", "Show", "Analyze", "LoadData", "Grant", "Revoke", "Export", "Cache", "Uncache", "Refresh",
) if hasattr(exp, name))

# Parentheses nested deeper than this are refused before parsing: sqlglot's recursive parser runs out of
# Python stack at about 45 levels, and no reporting query needs more than a handful.
MAX_NESTING = 32
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TOKEN = re.compile(r"<Token token_type: [^>]*?, text: (.*?), line: [^>]*>")  # sqlglot's Token repr


class QuerySyntaxError(LakehouseError):
    """The SQL does not parse."""


class QueryTooComplexError(LakehouseError):
    """The query nests deeper than the guard (or the parser) can follow."""


def too_deep() -> QueryTooComplexError:
    return QueryTooComplexError(f"refused: the query nests too deeply (at most {MAX_NESTING} levels of parentheses "
                                "or subqueries); flatten it with WITH ... AS (...) steps")


@dataclass
class CheckedQuery:
    """A parsed read-only query and the registry table behind each table reference in it."""

    sql: str
    tree: exp.Query
    refs: list[tuple[exp.Table, QueryTable]]
    scopes: frozenset[str] = field(default=DEFAULT_SCOPES)

    def masked(self, table: QueryTable) -> tuple[str, ...]:
        """The columns of `table` this query's reader sees masked."""
        return masked_columns(table, self.scopes)

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


def _nesting(sql: str) -> int:
    """The deepest parenthesis nesting outside quotes and line comments (a block comment only over-counts)."""
    depth = deepest = 0
    quote = None
    i = 0
    while i < len(sql):
        c = sql[i]
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif sql.startswith("--", i):
            i = sql.find("\n", i)
            i = len(sql) if i < 0 else i
        elif c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
        i += 1
    return deepest


def _refuse_function(node: exp.Func) -> ReadOnlyQueryError | None:
    if is_allowed(node):
        return None
    if isinstance(node.parent, (exp.Table, exp.Lateral)):
        return ReadOnlyQueryError(f"refused: table function {call_text(node)} (only lakehouse tables can be "
                                  "read; FROM takes layer.table names)")
    return ReadOnlyQueryError(f"refused: function {call_text(node)} is not on the allow-list of scalar, aggregate "
                              "and window functions (see docs/query.md)")


def check(sql: str, settings: Settings, scopes: frozenset[str] = DEFAULT_SCOPES) -> CheckedQuery:
    """Parse `sql` and refuse anything but one read-only query over registry tables the scopes cover."""
    if not sql or not sql.strip():
        raise QuerySyntaxError("no SQL given")
    if _nesting(sql) > MAX_NESTING:
        raise too_deep()
    try:
        return _check(sql, settings, scopes)
    except RecursionError:  # deep nesting without parentheses (NOT NOT ..., CASE in CASE ...)
        raise too_deep() from None


def _check(sql: str, settings: Settings, scopes: frozenset[str]) -> CheckedQuery:
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
        if isinstance(node, exp.Func) and (refusal := _refuse_function(node)) is not None:
            raise refusal

    known = known_tables(settings)
    refs: list[tuple[exp.Table, QueryTable]] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):  # a function or expression as a table source
            source = table.this.sql(dialect=READ_DIALECT) if table.this is not None else table.sql()
            raise _refuse(f"table function {source} (only lakehouse tables can be read)")
        if names_cte(table):
            continue
        resolved = resolve(table, settings, known)
        if resolved is None:
            raise unknown_table(table, known)
        check_access(resolved, scopes)
        refs.append((table, resolved))
    return CheckedQuery(sql, tree, refs, scopes)
