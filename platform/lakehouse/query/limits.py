"""What one query may cost on the local engine: time, memory and rows, each refused with one clear line.

A triple self-join of a big table would otherwise run until someone kills the process. DuckDB gets a memory
limit and no spill folder (a query that does not fit fails instead of filling the disk), and a timer thread
interrupts the connection when the statement timeout passes. Neither binds everything DuckDB does (one huge
string value, a list function, an operator that never checks for interrupts), so the query also runs in a
worker process with an address-space cap and a hard kill (lakehouse.query.pool): the error is the same line.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError

MAX_ROWS = 1_000_000  # most rows one query hands back; more is an export, not a query
THREADS = 2  # the machines this runs on are small and shared with Spark


class QueryLimitError(LakehouseError):
    """A query ran past the statement timeout or the memory limit, or asked for too many rows."""

    peak_memory_mb: float | None = None  # set by the worker pool: the worker's peak resident memory in the job


class QueryTimeoutError(QueryLimitError):
    """The statement timeout stopped the query."""


class QueryMemoryError(QueryLimitError):
    """The query needed more memory than its limit."""


class ResultTooLargeError(QueryLimitError):
    """The result holds more bytes than its caller accepts (a service keeping results for paging)."""


def too_large(max_bytes: int) -> ResultTooLargeError:
    return ResultTooLargeError(f"the result is larger than {max_bytes / 2**20:g} MB, the most one result may hold "
                               "here; select fewer columns or rows (filter on dt, aggregate)")


@dataclass(frozen=True)
class QueryLimits:
    timeout: float = 60.0  # seconds
    memory_mb: int = 1024

    @classmethod
    def of(cls, settings: Settings) -> "QueryLimits":
        return cls(settings.query_timeout, settings.query_memory_mb)


def check_row_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ROWS:
        raise QueryLimitError(f"the row limit must be a whole number from 1 to {MAX_ROWS:,}, not {limit}; "
                              "for more rows, export the table's files or narrow the query")
    return limit


def apply(con, limits: QueryLimits) -> None:
    """Settings of a DuckDB connection, before its configuration is locked."""
    con.execute(f"SET memory_limit = '{int(limits.memory_mb)}MB'")
    con.execute("SET temp_directory = ''")  # no spilling: a query that does not fit in memory fails
    con.execute(f"SET threads = {THREADS}")


@contextmanager
def deadline(con, limits: QueryLimits) -> Iterator[threading.Event]:
    """Interrupt `con` when the timeout passes; the event says whether it did."""
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        con.interrupt()

    timer = threading.Timer(limits.timeout, stop)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()


def timed_out(limits: QueryLimits) -> QueryTimeoutError:
    return QueryTimeoutError(f"the query was stopped after {limits.timeout:g} s, the statement timeout "
                             "(LAKEHOUSE_QUERY_TIMEOUT); filter on dt or aggregate before joining")


def out_of_memory(limits: QueryLimits) -> QueryMemoryError:
    return QueryMemoryError(f"the query needs more than {limits.memory_mb} MB of memory, the limit "
                            "(LAKEHOUSE_QUERY_MEMORY_MB); filter on dt or aggregate before joining")


def explain(exc: Exception, limits: QueryLimits, interrupted: bool) -> QueryLimitError | None:
    """The one-line error for a DuckDB error that is a limit at work, else None."""
    import duckdb

    if interrupted or isinstance(exc, duckdb.InterruptException) or "INTERRUPT Error" in str(exc):
        return timed_out(limits)
    if (isinstance(exc, (duckdb.OutOfMemoryException, MemoryError)) or "Out of Memory Error" in str(exc)
            or "std::bad_alloc" in str(exc)):
        return out_of_memory(limits)
    return None
