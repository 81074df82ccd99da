"""Results kept for paging: a query runs once, its result stays in memory, and pages are slices of it.

A page never re-runs the query with LIMIT/OFFSET (which would cost a full run per page and could shift rows
between pages as data lands). A result belongs to the key that ran it; another key asking for it gets the
same "unknown cursor" as for one that never existed. Results go after `ttl` seconds without a page read. Each
key has a share of the memory (`per_owner_bytes`): a new result pushes out that key's own oldest results, never
another key's, so one key's large results cannot take the cursors others are paging through.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa

_CURSOR = re.compile(r"^([A-Za-z0-9_-]{22})\.([0-9]{1,9})$")


class UnknownCursorError(LookupError):
    pass


@dataclass
class Result:
    owner: str  # the id of the key that ran the query
    table: pa.Table
    page_size: int
    truncated: bool
    engine: str
    id: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    engine_query_id: str | None = None  # Athena's QueryExecutionId

    def cursor(self, offset: int) -> str | None:
        """The cursor of the page starting at `offset`, None past the end."""
        return f"{self.id}.{offset}" if offset < self.table.num_rows else None


class ResultStore:
    def __init__(self, max_bytes: int, ttl: float, per_owner_bytes: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.max_bytes, self.ttl, self.clock = max_bytes, ttl, clock
        self.per_owner_bytes = min(per_owner_bytes or max_bytes, max_bytes)
        self._results: OrderedDict[str, tuple[Result, float]] = OrderedDict()  # oldest use first
        self._lock = threading.Lock()

    def keep(self, result: Result) -> bool:
        """Keep `result` for its next pages, pushing out its owner's oldest results as needed; False when it
        does not fit (larger than a key's share, or the rest of the memory holds other keys' results)."""
        size = result.table.nbytes
        if size > self.per_owner_bytes:
            return False
        with self._lock:
            self._expire()
            own = [r for r, _ in self._results.values() if r.owner == result.owner]
            own_bytes, total = sum(r.table.nbytes for r in own), self._bytes()
            for oldest in own:
                if own_bytes + size <= self.per_owner_bytes and total + size <= self.max_bytes:
                    break
                del self._results[oldest.id]
                own_bytes, total = own_bytes - oldest.table.nbytes, total - oldest.table.nbytes
            if total + size > self.max_bytes:
                return False
            self._results[result.id] = (result, self.clock())
        return True

    def find(self, cursor: str, owner: str) -> tuple[Result, int]:
        """The result and offset a cursor points at, if it is still kept and belongs to `owner`."""
        match = _CURSOR.match(cursor or "")
        with self._lock:
            self._expire()
            kept = self._results.get(match.group(1)) if match else None
            if kept is None or kept[0].owner != owner or int(match.group(2)) > kept[0].table.num_rows:
                raise UnknownCursorError(cursor)
            self._results[kept[0].id] = (kept[0], self.clock())
            self._results.move_to_end(kept[0].id)
            return kept[0], int(match.group(2))

    def drop(self, cursor: str, owner: str) -> None:
        result, _ = self.find(cursor, owner)
        with self._lock:
            self._results.pop(result.id, None)

    def _bytes(self) -> int:
        return sum(r.table.nbytes for r, _ in self._results.values())

    def _expire(self) -> None:
        now = self.clock()
        for result_id in [i for i, (_, used) in self._results.items() if now - used > self.ttl]:
            del self._results[result_id]
