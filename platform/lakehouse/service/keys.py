"""API keys of the query service: a name, scopes and an optional rate each, kept as SHA-256 hashes in one file.

A key reads `lhk_<id>_<secret>`. The id finds the entry; the secret (256 random bits) proves the key. Only the
hash of the whole key is stored, so the file can be backed up or read by an operator without giving a key away.
A slow password hash (bcrypt, scrypt) protects guessable passwords; a 256-bit random secret cannot be guessed,
so one SHA-256 is enough and keeps every request cheap. The service re-reads the file when it changes: adding
or revoking a key takes effect at the next request, without a restart.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from lakehouse.errors import LakehouseError
from lakehouse.query.scopes import SCOPES, scopes_of

PREFIX = "lhk"
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class KeyFileError(LakehouseError):
    """The key file cannot be read, or a key cannot be added or revoked as asked."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    id: str
    sha256: str
    scopes: tuple[str, ...]  # as granted; `read` is implied
    rate_per_minute: int | None = None  # None: the service's LAKEHOUSE_SERVE_RATE
    created: str = ""


def key_id_of(presented: str) -> str | None:
    """The id part of a well-formed key (it is not secret: audit records name it), else None."""
    match = _KEY.match(presented or "")
    return match.group(1) if match else None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _entry(raw: dict, path: Path) -> ApiKey:
    try:
        return ApiKey(name=str(raw["name"]), id=str(raw["id"]), sha256=str(raw["sha256"]),
                      scopes=tuple(str(s) for s in raw.get("scopes", ())),
                      rate_per_minute=int(raw["rate_per_minute"]) if raw.get("rate_per_minute") else None,
                      created=str(raw.get("created", "")))
    except (KeyError, TypeError, ValueError):
        raise KeyFileError(f"the key file {path} has an entry without name, id and sha256") from None


class KeyStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._by_id: dict[str, ApiKey] = {}

    def keys(self) -> list[ApiKey]:
        return list(self._current().values())

    def _current(self) -> dict[str, ApiKey]:
        """{id: key}, re-read when the file changed since the last look (a stat per request)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            if stamp != self._stamp:
                self._by_id = {k.id: k for k in self._read()}
                self._stamp = stamp
            return self._by_id

    def verify(self, presented: str | None) -> ApiKey | None:
        """The key `presented` is, or None; compared in constant time."""
        key_id = key_id_of(presented or "")
        if key_id is None:
            return None
        found = self._current().get(key_id)
        if found is None or not hmac.compare_digest(found.sha256, digest(presented)):
            return None
        return found

    def add(self, name: str, scopes: Iterable[str] = (), rate_per_minute: int | None = None) -> tuple[ApiKey, str]:
        """A new key: its entry (stored) and the key itself (shown once, never stored)."""
        if not _NAME.match(name or ""):
            raise KeyFileError(f"key name {name!r} is not valid: letters, digits and . _ @ -, at most 64, "
                               "starting with a letter or digit")
        held = scopes_of(scopes)  # refuses an unknown scope
        granted = tuple(s for s in SCOPES if s in held)
        if rate_per_minute is not None and rate_per_minute < 1:
            raise KeyFileError(f"a key's rate is at least 1 request a minute, not {rate_per_minute}")
        key_id = secrets.token_hex(6)
        key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        entry = ApiKey(name, key_id, digest(key), granted, rate_per_minute,
                       datetime.now(timezone.utc).isoformat(timespec="seconds"))
        with self._locked():
            current = self._read()
            if any(k.name == name for k in current):
                raise KeyFileError(f"a key named {name!r} exists; revoke it first (lakehouse keys revoke {name}) "
                                   "or choose another name")
            self._write([*current, entry])
        return entry, key

    def revoke(self, name: str) -> bool:
        with self._locked():
            current = self._read()
            kept = [k for k in current if k.name != name]
            if len(kept) != len(current):
                self._write(kept)
            return len(kept) != len(current)

    def _read(self) -> list[ApiKey]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise KeyFileError(f"the key file {self.path} cannot be read: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise KeyFileError(f'the key file {self.path} is not {{"keys": [...]}}')
        return [_entry(raw, self.path) for raw in data["keys"] if isinstance(raw, dict)]

    def _write(self, keys: list[ApiKey]) -> None:
        """Replace the file atomically, readable by its owner only."""
        temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"version": 1, "keys": [asdict(k) for k in keys]}, out, indent=2)
            out.write("\n")
        os.replace(temp, self.path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (two `lakehouse keys add` at once must not lose a key)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
