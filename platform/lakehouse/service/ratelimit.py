"""Per-key rate limits: a token bucket per key, `burst` requests at once, refilled at the key's rate a minute."""
from __future__ import annotations

import math
import threading
import time
from typing import Callable


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
            tokens, then = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * per_second)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0
            self._buckets[key_id] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / per_second))
