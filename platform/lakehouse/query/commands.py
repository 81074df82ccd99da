"""The `lakehouse query`, `databases`, `catalog-tables` and `describe` subcommands.

Errors are printed here as one line on stderr with exit code 2, so CSV and JSON on stdout stay clean; a warehouse
that does not answer is one of them (lakehouse.query.warehouse), naming it.
"""
from __future__ import annotations

import sys

from lakehouse.config import QUERY_ENGINES as ENGINES
from lakehouse.query.limits import MAX_ROWS
from lakehouse.query.output import FORMATS
from lakehouse.query.result import DEFAULT_LIMIT
from lakehouse.query.scopes import SCOPES


def _console():
    from lakehouse.console import console

    return console


def _fail(exc: Exception) -> int:
    from lakehouse.console import error_line
    from lakehouse.errors import LakehouseError

    if not isinstance(exc, (LakehouseError, KeyError, FileNotFoundError, ValueError)):
        raise exc
    sys.stderr.write(f"error: {error_line(exc)}\n")
    return 2


def _print(table, fmt: str, title: str | None = None) -> None:
    from lakehouse.query.output import write

    write(table, fmt, sys.stdout, console=_console() if fmt == "table" else None, title=title)


def cmd_query(args) -> int:
    from lakehouse.query.run import execute
    from lakehouse.query.warehouse import check_endpoint

    try:
        settings = args.settings
        engine = args.engine or settings.query_engine
        options = {"workgroup": args.workgroup} if engine == "athena" and args.workgroup else {}
        if engine == "local":
            check_endpoint(settings)
        result = execute(args.sql, engine=engine, settings=settings, limit=args.limit, scopes=args.scope,
                         **options)
        _print(result.table, args.format)
    except Exception as exc:  # noqa: BLE001 - _fail re-raises what is not a user error
        return _fail(exc)
    if result.truncated:
        sys.stderr.write(f"note: stopped at the row limit ({result.limit} rows); more rows exist "
                         "(raise it with --limit or narrow the query)\n")
    return 0


def cmd_databases(args) -> int:
    from lakehouse.query.listing import list_databases

    try:
        _print(list_databases(args.settings), args.format, title="databases")
    except Exception as exc:  # noqa: BLE001
        return _fail(exc)
    return 0


def cmd_catalog_tables(args) -> int:
    from lakehouse.query.listing import list_tables
    from lakehouse.query.warehouse import reading

    try:
        settings = args.settings
        with reading(settings):
            tables = list_tables(settings, layer=args.database)
        _print(tables, args.format, title="tables")
    except Exception as exc:  # noqa: BLE001
        return _fail(exc)
    return 0


def cmd_catalog_describe(args) -> int:
    from lakehouse.query.listing import describe
    from lakehouse.query.warehouse import reading

    try:
        settings = args.settings
        with reading(settings):
            d = describe(args.table, settings)
        if args.format == "table":
            console = _console()
            console.print(f"[bold]{d.table.id}[/bold] — {d.table.description}")
            console.print(f"format: {d.table.format}   location: {d.location}   glue: {d.glue_table or '-'}")
            console.print(f"partitions: {len(d.partitions)}"
                          + (f" ({d.partitions[0]} .. {d.partitions[-1]})" if d.partitions else "")
                          + (f"   delta version: {d.delta_version}" if d.delta_version is not None else "")
                          + ("" if d.has_data else "   no data yet: declared columns"))
        _print(d.columns, args.format)
    except Exception as exc:  # noqa: BLE001
        return _fail(exc)
    return 0


def add_commands(sub) -> None:
    """Attach the query-layer subcommands to the `lakehouse` parser's subparsers."""
    query = sub.add_parser("query", help="run one read-only SQL query (DuckDB locally, Athena or Trino)")
    query.add_argument("sql", help='e.g. "SELECT region, count(*) FROM silver.orders WHERE dt = \'2024-06-03\' '
                                   'GROUP BY 1"')
    query.add_argument("--engine", choices=ENGINES, default=None,
                       help="default: LAKEHOUSE_QUERY_ENGINE, else local; trino reads LAKEHOUSE_TRINO_URL")
    query.add_argument("--format", choices=FORMATS, default="table")
    query.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                       help=f"most rows returned (default {DEFAULT_LIMIT}, at most {MAX_ROWS:,})")
    query.add_argument("--scope", action="append", choices=SCOPES[1:], default=[],
                       help="also read PII columns unmasked (pii) or bronze and quarantine tables (raw); repeatable")
    query.add_argument("--workgroup", help="Athena workgroup (default: LAKEHOUSE_ATHENA_WORKGROUP or Athena's own)")
    query.set_defaults(func=cmd_query)

    databases = sub.add_parser("databases", help="the databases a query can use (layers; Glue names when on)")
    databases.add_argument("--format", choices=FORMATS, default="table")
    databases.set_defaults(func=cmd_databases)

    tables = sub.add_parser("catalog-tables", help="queryable tables with format, partitions and location")
    tables.add_argument("--database", help="only this layer (bronze, silver, gold, quarantine, ops)")
    tables.add_argument("--format", choices=FORMATS, default="table")
    tables.set_defaults(func=cmd_catalog_tables)

    describe = sub.add_parser("describe", help="stored columns and types, partitions, Delta version, PII")
    describe.add_argument("table", help="layer.table, e.g. silver.orders")
    describe.add_argument("--format", choices=FORMATS, default="table")
    describe.set_defaults(func=cmd_catalog_describe)
