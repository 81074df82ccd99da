"""What the service does for a request, apart from HTTP: who is asking, how often, how many at once, what is kept.

Queries go through lakehouse.query.execute with the key's scopes, so the service enforces exactly the CLI's
guard, PII masking and statement limits (in its own warm pool of worker processes, one per slot); it adds keys,
rates, concurrency slots with a per-key share, a result-size cap, results kept for paging with a per-key share,
a limit on failed authentications per client address, and the audit log.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError
from lakehouse.query import execute
from lakehouse.query.limits import check_row_limit, too_large
from lakehouse.query.pool import WorkerPool
from lakehouse.service.audit import AuditLog
from lakehouse.service.errors import REFUSALS, ServiceError, service_error
from lakehouse.service.keys import ApiKey, KeyFileError, KeyStore, key_id_of
from lakehouse.service.models import QueryRequest
from lakehouse.service.ratelimit import FailureLimiter, RateLimiter
from lakehouse.service.results import Result, ResultStore

BEARER = {"WWW-Authenticate": 'Bearer realm="lakehouse"'}
log = logging.getLogger("lakehouse.service")


class Service:
    def __init__(self, settings: Settings, keys: KeyStore | None = None, audit: AuditLog | None = None):
        self.settings = settings
        self.keys = keys or KeyStore(settings.serve_keys_file)
        self.audit = audit or AuditLog(settings.serve_audit_file)
        self.limiter = RateLimiter(settings.serve_rate_per_minute, settings.serve_burst)
        self.failures = FailureLimiter(settings.serve_auth_failures)
        # one result must fit a key's share of the memory that keeps results for paging
        self.max_bytes = min(settings.serve_max_result_mb, settings.serve_key_cache_mb) * 2**20
        self.results = ResultStore(settings.serve_cache_mb * 2**20, settings.serve_result_ttl,
                                   settings.serve_key_cache_mb * 2**20)
        self.slots = threading.BoundedSemaphore(settings.serve_concurrency)
        self._running: dict[str, int] = {}  # key id -> queries it runs now
        self._running_lock = threading.Lock()
        self.pool = WorkerPool(settings.serve_concurrency)  # one warm worker process per slot

    def start(self) -> None:
        """What `lakehouse serve` does before it listens: check the audit log (/readyz says why not ready) and
        start the query workers, so the first queries do not wait for them."""
        if not self.audit.writable():
            log.error("not ready: the audit log %s cannot be written", self.audit.path)
        self.pool.warm()

    def close(self) -> None:
        self.pool.close()
        self.audit.close()

    # --- who, and how often -------------------------------------------------------------------------------
    def authenticate(self, token: str | None, client: str | None) -> ApiKey:
        if not self.audit.writable():  # a request that cannot be audited is not served
            raise ServiceError(503, "not_ready", "the service cannot write its audit log (see the service log)")
        try:
            key = self.keys.verify(token)
        except KeyFileError as exc:  # the caller is not known yet: the details go to the log only
            log.error("cannot read the keys: %s", exc)
            raise ServiceError(503, "not_ready", "the service cannot read its keys (see the service log)") from None
        if key is None:
            self._failed_authentication(client)
            self.audit.record(event="denied", status=401, client=client, key_id=key_id_of(token or ""))
            message = ("the API key is not valid (unknown, revoked or mistyped)" if token else
                       "no API key: send the header Authorization: Bearer <key> (keys come from lakehouse keys add)")
            raise ServiceError(401, "unauthorized", message, BEARER)
        wait = self.limiter.take(key.id, key.rate_per_minute)
        if wait:
            self.audit.record(event="limited", status=429, client=client, key=key.name, key_id=key.id)
            rate = key.rate_per_minute or self.settings.serve_rate_per_minute
            raise ServiceError(429, "rate_limited", f"key {key.name!r} is over its rate of {rate} requests a minute "
                               f"(bursts of {self.settings.serve_burst}); retry in {wait} s", {"Retry-After": str(wait)})
        return key

    def _failed_authentication(self, client: str | None) -> None:
        """Count a request without a valid key; past LAKEHOUSE_SERVE_AUTH_FAILURES a minute from one address it
        gets 429, and the audit log one line for the whole stretch instead of one per request."""
        wait, first = self.failures.failed(client or "unknown")
        if not wait:
            return
        if first:
            self.audit.record(event="auth_limited", status=429, client=client,
                              limit_per_minute=self.settings.serve_auth_failures)
        raise ServiceError(429, "rate_limited", f"too many requests without a valid API key from this address (at "
                           f"most {self.settings.serve_auth_failures} a minute, LAKEHOUSE_SERVE_AUTH_FAILURES); "
                           f"retry in {wait} s", {"Retry-After": str(wait), **BEARER})

    @contextmanager
    def audited(self, event: str, key: ApiKey, client: str | None, **fields) -> Iterator[dict]:
        """Record the request when it ends; the caller fills the dict it gets (rows, query id, ...)."""
        began, outcome = time.perf_counter(), {}
        try:
            yield outcome
            outcome.setdefault("status", 200)
        except LakehouseError as exc:
            error = service_error(exc)
            outcome.update(status=error.status, error=error.code,
                           message=error.message if error.code in REFUSALS else None)
            raise error from None
        except ServiceError as error:
            outcome.update(status=error.status, error=error.code,
                           message=error.message if error.code in REFUSALS else None)
            raise
        except Exception:
            outcome.update(status=500, error="internal")
            raise
        finally:
            self.audit.record(event=event, key=key.name, key_id=key.id, client=client, **fields, **outcome,
                              duration_ms=round((time.perf_counter() - began) * 1000, 1))

    # --- queries ------------------------------------------------------------------------------------------
    @contextmanager
    def slot(self, key: ApiKey) -> Iterator[None]:
        """One of LAKEHOUSE_SERVE_CONCURRENCY running queries, at most LAKEHOUSE_SERVE_KEY_CONCURRENCY of them for
        one key (more from the key get 429 at once, so it cannot hold every slot); waits at most a statement
        timeout for a free slot."""
        share = self.settings.serve_key_concurrency
        with self._running_lock:
            running = self._running.get(key.id, 0)
            if running >= share:
                raise ServiceError(429, "too_many_queries", f"key {key.name!r} already runs {running} queries, its "
                                   f"share of the {self.settings.serve_concurrency} query slots "
                                   "(LAKEHOUSE_SERVE_KEY_CONCURRENCY); send the next when one ends",
                                   {"Retry-After": "1"})
            self._running[key.id] = running + 1
        try:
            if not self.slots.acquire(timeout=self.settings.query_timeout):
                raise ServiceError(503, "busy", f"all {self.settings.serve_concurrency} query slots stayed busy for "
                                   f"{self.settings.query_timeout:g} s (LAKEHOUSE_SERVE_CONCURRENCY); retry shortly",
                                   {"Retry-After": "1"})
            try:
                yield
            finally:
                self.slots.release()
        finally:
            with self._running_lock:
                self._running[key.id] -= 1
                if not self._running[key.id]:
                    del self._running[key.id]

    def row_limit(self, asked: int | None) -> int:
        cap = self.settings.serve_max_rows
        limit = check_row_limit(cap if asked is None else asked)  # the query layer's own bounds first
        if limit > cap:
            raise ServiceError(400, "bad_limit", f"max_rows is at most {cap:,} here (LAKEHOUSE_SERVE_MAX_ROWS), "
                               f"not {limit:,}; narrow the query or page through a smaller result")
        return limit

    def run(self, key: ApiKey, request: QueryRequest) -> Result:
        limit = self.row_limit(request.max_rows)
        engine = request.engine or self.settings.query_engine
        if engine == "local":  # DuckDB stops reading once the result passes the cap
            options: dict = {"max_bytes": self.max_bytes, "pool": self.pool}
        elif engine == "trino":  # so does Trino's reader
            options = {"max_bytes": self.max_bytes}
        else:
            options = {"timeout": self.settings.query_timeout}
        with self.slot(key):
            result = execute(request.sql, engine=engine, settings=self.settings, limit=limit,
                             scopes=key.scopes, **options)
        if result.table.nbytes > self.max_bytes:  # Athena's rows, counted once they are here
            raise too_large(self.max_bytes)
        kept = Result(owner=key.id, table=result.table, page_size=request.page_size, truncated=result.truncated,
                      engine=result.engine, engine_query_id=result.query_id)
        if kept.table.num_rows > request.page_size and not self.results.keep(kept):
            raise ServiceError(503, "cache_full", "the memory for results kept for paging (LAKEHOUSE_SERVE_CACHE_MB) "
                               "is full of other keys' results; retry shortly, or ask for a result that fits one "
                               "page (max_rows, page_size)", {"Retry-After": "10"})
        return kept
