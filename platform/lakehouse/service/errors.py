"""Every error the service answers: JSON `{"error": code, "message": one line}`, never a traceback.

The query layer's errors already say what was refused and why in one line; here each kind gets its HTTP status
and a stable code a program can switch on. An error from the engine or the storage may name a file or folder of
the server (a Delta table's location, a Parquet file DuckDB could not read): a client gets `<path>` instead.
"""
from __future__ import annotations

import re

from lakehouse.errors import LakehouseError, ReadOnlyQueryError
from lakehouse.query.guard import QuerySyntaxError, QueryTooComplexError
from lakehouse.query.limits import QueryLimitError, QueryMemoryError, QueryTimeoutError, ResultTooLargeError
from lakehouse.query.names import UnknownTableError
from lakehouse.query.scopes import AccessDeniedError


class ServiceError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers or {}, extra

    def body(self) -> dict:
        return {"error": self.code, "message": self.message, **self.extra}


# most specific first: the first class an error is an instance of decides
_KINDS: list[tuple[type[Exception], int, str]] = [
    (AccessDeniedError, 403, "forbidden"),
    (UnknownTableError, 400, "unknown_table"),
    (QuerySyntaxError, 400, "syntax_error"),
    (QueryTooComplexError, 400, "too_complex"),
    (ReadOnlyQueryError, 400, "refused"),
    (QueryTimeoutError, 422, "timeout"),
    (QueryMemoryError, 422, "memory_limit"),
    (ResultTooLargeError, 413, "result_too_large"),
    (QueryLimitError, 400, "bad_limit"),
    (LakehouseError, 400, "query_failed"),  # DuckDB or Athena could not run it; a table without data yet
]
# a URI of the warehouse, or an absolute path (not the middle of 10/06/2024, a/b or http://host/x)
_SERVER_PATH = re.compile(r"\b(?:file|s3a?)://[^\s'\"()]+|(?<![\w.:/])/(?:[^\s/'\"()]+/)+[^\s/'\"()]*")
# the kinds whose message only quotes the query (fit for the audit log); an engine's may quote stored data
REFUSALS = {"forbidden", "unknown_table", "syntax_error", "too_complex", "refused", "timeout", "memory_limit",
            "result_too_large", "bad_limit"}


def service_error(exc: LakehouseError) -> ServiceError:
    from lakehouse.console import error_line  # the one line every user-facing error goes through (secrets scrubbed)

    status, code = next((s, c) for kind, s, c in _KINDS if isinstance(exc, kind))
    extra = {"missing_scope": exc.scope} if isinstance(exc, AccessDeniedError) and exc.scope else {}
    message = error_line(exc)
    if code not in REFUSALS:  # a refusal quotes the client's own SQL, which may hold a path: that stays
        message = without_server_paths(message)
    return ServiceError(status, code, message, **extra)


def without_server_paths(text: str) -> str:
    return _SERVER_PATH.sub("<path>", text)
