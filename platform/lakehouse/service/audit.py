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


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._handler: WatchedFileHandler | None = None  # opened at the first record: building an app writes nothing
        self._lock = threading.Lock()

    def record(self, **fields) -> None:
        line = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields}
        text = json.dumps({k: v for k, v in line.items() if v is not None}, ensure_ascii=False, default=str)
        with self._lock:
            if self._handler is None:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._handler = WatchedFileHandler(self.path, encoding="utf-8")
                self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._handler.handle(logging.makeLogRecord({"msg": text, "levelno": logging.INFO, "levelname": "INFO"}))

    def close(self) -> None:
        if self._handler is not None:
            self._handler.close()
