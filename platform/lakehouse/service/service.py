"""What the service does for a request, apart from HTTP: who is asking, how often, how many at once, what is kept.

Queries go through lakehouse.query.execute with the key's scopes, so the service enforces exactly the CLI's
guard, PII masking and statement limits; it adds keys, rates, concurrency slots, a result-size cap, results kept
for paging and the audit log.
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
from lakehouse.service.audit import AuditLog
from lakehouse.service.errors import REFUSALS, ServiceError, service_error
from lakehouse.service.keys import ApiKey, KeyFileError, KeyStore, key_id_of
from lakehouse.service.models import QueryRequest
from lakehouse.service.ratelimit import RateLimiter
from lakehouse.service.results import Result, ResultStore

BEARER = {"WWW-Authenticate": 'Bearer realm="lakehouse"'}
log = logging.getLogger("lakehouse.service")


class Service:
    def __init__(self, settings: Settings, keys: KeyStore | None = None, audit: AuditLog | None = None):
        self.settings = settings
        self.keys = keys or KeyStore(settings.serve_keys_file)
        self.audit = audit or AuditLog(settings.serve_audit_file)
        self.limiter = RateLimiter(settings.serve_rate_per_minute, settings.serve_burst)
        # one result must fit the cache that keeps it for paging
        self.max_bytes = min(settings.serve_max_result_mb, settings.serve_cache_mb) * 2**20
        self.results = ResultStore(settings.serve_cache_mb * 2**20, settings.serve_result_ttl)
        self.slots = threading.BoundedSemaphore(settings.serve_concurrency)

    # --- who, and how often -------------------------------------------------------------------------------
    def authenticate(self, token: str | None, client: str | None) -> ApiKey:
        try:
            key = self.keys.verify(token)
        except KeyFileError as exc:  # the caller is not known yet: the details go to the log only
            log.error("cannot read the keys: %s", exc)
            raise ServiceError(503, "not_ready", "the service cannot read its keys (see the service log)") from None
        if key is None:
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
    def slot(self) -> Iterator[None]:
        """One of LAKEHOUSE_SERVE_CONCURRENCY running queries; waits at most a statement timeout for one."""
        if not self.slots.acquire(timeout=self.settings.query_timeout):
            raise ServiceError(503, "busy", f"all {self.settings.serve_concurrency} query slots stayed busy for "
                               f"{self.settings.query_timeout:g} s (LAKEHOUSE_SERVE_CONCURRENCY); retry shortly",
                               {"Retry-After": "1"})
        try:
            yield
        finally:
            self.slots.release()

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
        if engine in ("local", "trino"):  # DuckDB and Trino's reader stop once the result passes the cap
            options: dict = {"max_bytes": self.max_bytes}
        else:
            options = {"timeout": self.settings.query_timeout}
        with self.slot():
            result = execute(request.sql, engine=engine, settings=self.settings, limit=limit,
                             scopes=key.scopes, **options)
        if result.table.nbytes > self.max_bytes:  # Athena's rows, counted once they are here
            raise too_large(self.max_bytes)
        kept = Result(owner=key.id, table=result.table, page_size=request.page_size, truncated=result.truncated,
                      engine=result.engine, engine_query_id=result.query_id)
        if kept.table.num_rows > request.page_size:
            self.results.keep(kept)  # fits: max_bytes is at most the cache's size
        return kept
