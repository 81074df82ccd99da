"""The audit log: one JSON line per request to /v1 (who, what SQL, how long, how many rows, the outcome).

Never the result's data and never a key: a record names the key by its name and id. A refusal's message is kept
(it quotes only the query), an engine's error is not (DuckDB may quote a stored value: "could not convert
'ann@example.com'"), only its kind. The file is reopened when logrotate moves it.
"""
from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone
from logging.handlers import WatchedFileHandler
from pathlib import Path


# JSON leaves these as they are, but Python's str.splitlines() and some log shippers break lines at them
_LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}
log = logging.getLogger("lakehouse.service")


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._handler: WatchedFileHandler | None = None  # opened at start or the first record, not when built
        self._lock = threading.Lock()
        self._broken = False  # the last attempt to open it failed (logged once)

    def _open(self) -> WatchedFileHandler:
        with self._lock:
            if self._handler is None:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                handler = WatchedFileHandler(self.path, encoding="utf-8")
                handler.setFormatter(logging.Formatter("%(message)s"))
                self._handler = handler
            return self._handler

    def writable(self) -> bool:
        """Whether records can be written (the file opens for appending); the first failure is logged."""
        try:
            self._open()
        except OSError as exc:
            if not self._broken:
                log.error("the audit log %s cannot be opened for writing: %s", self.path, exc)
            self._broken = True
            return False
        self._broken = False
        return True

    def record(self, **fields) -> None:
        line = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields}
        text = json.dumps({k: v for k, v in line.items() if v is not None}, ensure_ascii=False, default=str)
        self._open().handle(logging.makeLogRecord({"msg": text.translate(_LINE_BREAKS), "levelno": logging.INFO,
                                                   "levelname": "INFO"}))

    def close(self) -> None:
        with self._lock:
            if self._handler is not None:
                self._handler.close()
                self._handler = None
