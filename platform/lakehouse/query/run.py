"""One entry point for both engines: guard the SQL, then run it locally (DuckDB) or on Athena."""
from __future__ import annotations

import pyarrow as pa

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError
from lakehouse.query.guard import check
from lakehouse.query.result import DEFAULT_LIMIT, QueryResult

ENGINES = ("local", "athena")


def execute(sql: str, engine: str = "local", settings: Settings | None = None, limit: int = DEFAULT_LIMIT,
            **engine_options) -> QueryResult:
    """Run one read-only query; `engine_options` go to the Athena engine (workgroup, timeout, client)."""
    if engine not in ENGINES:
        raise LakehouseError(f"unknown engine {engine!r}; use {' or '.join(ENGINES)}")
    if limit < 1:
        raise LakehouseError(f"limit must be at least 1, not {limit}")
    settings = settings or Settings.from_env()
    checked = check(sql, settings)
    if engine == "local":
        from lakehouse.query.local import run_local

        return run_local(checked, settings, limit)
    from lakehouse.query.athena import AthenaEngine

    return AthenaEngine(settings, **engine_options).run(checked, limit)


def run_query(sql: str, engine: str = "local", settings: Settings | None = None, limit: int = DEFAULT_LIMIT,
              **engine_options) -> pa.Table:
    """The rows as a pyarrow Table; schema metadata b"lakehouse.query.truncated" says whether the limit cut them."""
    return execute(sql, engine, settings, limit, **engine_options).tagged()
