"""Two Spark actions of one step at once.

A step's actions on small batches are bound by latency (planning, scheduling, a Delta commit), not by the
cores, and one SparkSession (classic or Connect) takes jobs from several threads at once. So an action that
does not depend on the next one (a quarantine commit beside the contract's aggregation, a preview beside the
table's commit) runs in a side thread, and the step waits for it before it moves on.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")


@contextmanager
def alongside(fn: Callable[[], T]) -> Iterator[Future[T]]:
    """Run `fn` in a side thread for the block. Leaving the block waits for it: its error is raised when the
    block succeeded; when the block failed, the block's own error wins (after `fn` has finished, so nothing
    the step releases next is still in use)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lakehouse-alongside")
    future = pool.submit(fn)
    try:
        yield future
    except BaseException:
        future.exception()  # wait, and keep the block's error
        raise
    else:
        future.result()
    finally:
        pool.shutdown(wait=True)
