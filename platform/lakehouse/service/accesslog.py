"""uvicorn's access log without query strings: a key passed as `?key=...` (refused, but sent) or a literal in a
query parameter is never written to the log. The path, method and status stay."""
from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


class DropQueryStrings(logging.Filter):
    """uvicorn logs `'%s - "%s %s HTTP/%s" %d'` with the path and query string as the third argument."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def drop_query_strings() -> None:
    """Attach the filter to uvicorn's access logger once (uvicorn's logging config keeps a logger's filters)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())
