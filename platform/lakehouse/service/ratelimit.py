"""Rate limits: a token bucket per key (`burst` requests at once, refilled at the key's rate a minute), and one per
client address for failed authentications (bad or missing keys), so guessing keys is slow and a flood of them
fills neither the CPU nor the audit log."""
from __future__ import annotations

import math
import threading
import time
from typing import Callable

MAX_TRACKED = 10_000  # buckets kept before full ones are forgotten (one per address could otherwise grow forever)


class RateLimiter:
    def __init__(self, rate_per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate_per_minute, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, when counted)
        self._lock = threading.Lock()

    def take(self, key_id: str, rate_per_minute: int | None = None) -> int:
        """0 when the key may make a request now (and it is counted), else the whole seconds to wait."""
        per_second = (rate_per_minute or self.rate) / 60.0
        now = self.clock()
        with self._lock:
            if len(self._buckets) >= MAX_TRACKED:
                self._forget_full(now, per_second)
            tokens, then = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * per_second)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0
            self._buckets[key_id] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / per_second))

    def _forget_full(self, now: float, per_second: float) -> None:
        """Drop the buckets that have refilled: forgetting them changes nothing."""
        for name in [n for n, (tokens, then) in self._buckets.items()
                     if tokens + (now - then) * per_second >= self.burst]:
            del self._buckets[name]


class FailureLimiter:
    """At most `per_minute` failed authentications per client address (at once or spread over a minute)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._bucket = RateLimiter(per_minute, per_minute, clock)
        self._limited_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def failed(self, client: str) -> tuple[int, bool]:
        """Count one failure: (0, False) while under the limit, else (seconds to wait, whether this is the first
        refusal since the address went over it: the one worth an audit line)."""
        wait = self._bucket.take(client)
        if not wait:
            return 0, False
        now = self.clock()
        with self._lock:
            first = self._limited_until.get(client, 0.0) <= now
            if first:
                if len(self._limited_until) >= MAX_TRACKED:
                    self._limited_until = {c: t for c, t in self._limited_until.items() if t > now}
                self._limited_until[client] = now + wait
        return wait, first
