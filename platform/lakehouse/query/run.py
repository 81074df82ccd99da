"""One entry point for the engines: guard the SQL, then run it locally (DuckDB), on Athena or on Trino.

`scopes` is how any caller (the CLI, a service over the lake) says what its reader may see: see
lakehouse.query.scopes. Without it a reader has `read` only.
"""
from __future__ import annotations

from typing import Iterable

import pyarrow as pa

from lakehouse.config import QUERY_ENGINES, Settings
from lakehouse.errors import LakehouseError
from lakehouse.query.guard import check, too_deep
from lakehouse.query.limits import check_row_limit
from lakehouse.query.pool import shared_pool
from lakehouse.query.result import DEFAULT_LIMIT, QueryResult
from lakehouse.query.scopes import scopes_of

ENGINES = QUERY_ENGINES


def execute(sql: str, engine: str | None = None, *, settings: Settings, limit: int = DEFAULT_LIMIT,
            scopes: Iterable[str] | None = None, **engine_options) -> QueryResult:
    """Run one read-only query on `engine` (default: LAKEHOUSE_QUERY_ENGINE, else local); `engine_options` go to
    the engine (local: limits, max_bytes and the worker pool, by default this process's shared one; Trino: limits,
    max_bytes; Athena: workgroup, timeout, client)."""
    engine = engine or settings.query_engine
    if engine not in ENGINES:
        raise LakehouseError(f"unknown engine {engine!r}; use {', '.join(ENGINES)}")
    check_row_limit(limit)
    if engine == "local":  # a worker process runs it; one that is not up yet starts loading while the guard reads
        engine_options["pool"] = (engine_options.get("pool") or shared_pool()).prepare()
    checked = check(sql, settings, scopes_of(scopes))
    try:
        if engine == "local":
            from lakehouse.query.local import run_local

            return run_local(checked, settings, limit, **engine_options)
        if engine == "trino":
            from lakehouse.query.trino import run_trino

            return run_trino(checked, settings, limit, **engine_options)
        from lakehouse.query.athena import AthenaEngine

        return AthenaEngine(settings, **engine_options).run(checked, limit)
    except RecursionError:  # writing the checked tree back out as SQL nests deeper than parsing it did
        raise too_deep() from None


def run_query(sql: str, engine: str | None = None, *, settings: Settings, limit: int = DEFAULT_LIMIT,
              scopes: Iterable[str] | None = None, **engine_options) -> pa.Table:
    """The rows as a pyarrow Table; schema metadata b"lakehouse.query.truncated" says whether the limit cut them."""
    return execute(sql, engine, settings=settings, limit=limit, scopes=scopes, **engine_options).tagged()
