"""One entry point for both engines: guard the SQL, then run it locally (DuckDB) or on Athena.

`scopes` is how any caller (the CLI, a service over the lake) says what its reader may see: see
lakehouse.query.scopes. Without it a reader has `read` only.
"""
from __future__ import annotations

from typing import Iterable

import pyarrow as pa

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError
from lakehouse.query.guard import check, too_deep
from lakehouse.query.limits import check_row_limit
from lakehouse.query.pool import shared_pool
from lakehouse.query.result import DEFAULT_LIMIT, QueryResult
from lakehouse.query.scopes import scopes_of

ENGINES = ("local", "athena")


def execute(sql: str, engine: str = "local", settings: Settings | None = None, limit: int = DEFAULT_LIMIT,
            scopes: Iterable[str] | None = None, **engine_options) -> QueryResult:
    """Run one read-only query; `engine_options` go to the engine (local: limits, max_bytes and the worker pool,
    by default this process's shared one; Athena: workgroup, timeout, client)."""
    if engine not in ENGINES:
        raise LakehouseError(f"unknown engine {engine!r}; use {' or '.join(ENGINES)}")
    check_row_limit(limit)
    settings = settings or Settings.from_env()
    if engine == "local":  # a worker process runs it; one that is not up yet starts loading while the guard reads
        engine_options["pool"] = (engine_options.get("pool") or shared_pool()).prepare()
    checked = check(sql, settings, scopes_of(scopes))
    try:
        if engine == "local":
            from lakehouse.query.local import run_local

            return run_local(checked, settings, limit, **engine_options)
        from lakehouse.query.athena import AthenaEngine

        return AthenaEngine(settings, **engine_options).run(checked, limit)
    except RecursionError:  # writing the checked tree back out as SQL nests deeper than parsing it did
        raise too_deep() from None


def run_query(sql: str, engine: str = "local", settings: Settings | None = None, limit: int = DEFAULT_LIMIT,
              scopes: Iterable[str] | None = None, **engine_options) -> pa.Table:
    """The rows as a pyarrow Table; schema metadata b"lakehouse.query.truncated" says whether the limit cut them."""
    return execute(sql, engine, settings, limit, scopes, **engine_options).tagged()
