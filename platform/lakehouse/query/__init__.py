"""Read-only SQL over the lakehouse: list and describe tables, run a query locally (DuckDB) or on Athena."""
from lakehouse.query.listing import describe, list_databases, list_tables
from lakehouse.query.guard import QuerySyntaxError, UnknownTableError, check
from lakehouse.query.result import DEFAULT_LIMIT, QueryResult
from lakehouse.query.run import execute, run_query

__all__ = ["DEFAULT_LIMIT", "QueryResult", "QuerySyntaxError", "UnknownTableError", "check", "describe",
           "execute", "list_databases", "list_tables", "run_query"]
