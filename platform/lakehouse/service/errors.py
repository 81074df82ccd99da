"""Every error the service answers: JSON `{"error": code, "message": one line}`, never a traceback.

The query layer's errors already say what was refused and why in one line; here each kind gets its HTTP status
and a stable code a program can switch on.
"""
from __future__ import annotations

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
# the kinds whose message only quotes the query (fit for the audit log); an engine's may quote stored data
REFUSALS = {"forbidden", "unknown_table", "syntax_error", "too_complex", "refused", "timeout", "memory_limit",
            "result_too_large", "bad_limit"}


def service_error(exc: LakehouseError) -> ServiceError:
    from lakehouse.cli import error_line  # the one line every user-facing error goes through (secrets scrubbed)

    status, code = next((s, c) for kind, s, c in _KINDS if isinstance(exc, kind))
    extra = {"missing_scope": exc.scope} if isinstance(exc, AccessDeniedError) and exc.scope else {}
    return ServiceError(status, code, error_line(exc), **extra)
