"""The landing zone: <landing>/<source>/<entity>/dt=YYYY-MM-DD/<file>.(csv|jsonl)[.gz].

Listing is what the landing sensor and the bronze readers agree on: a file counts once it is complete
(non-empty, not a temporary name) and sits exactly at the layout's depth under a `dt=` folder holding a real
calendar date. Everything else is left alone: Spark/Hadoop markers (`_SUCCESS`, `_temporary/`), hidden files,
uploads still in flight (`.tmp`, `.part`, `._COPYING_`, ...), and files off the layout.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterable
from urllib.parse import quote

from lakehouse.config import Settings
from lakehouse.storage.filesystem import filesystem_for, list_files
from lakehouse.tables.spec import LandingSource

log = logging.getLogger(__name__)

# Writers still busy with a file use names like these; the file is picked up once it is renamed.
IN_FLIGHT_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crc", "_copying_", ".inprogress", ".filepart",
                      ".crdownload")
_URI_SAFE = "/=:@!$&'()*+,;~"  # legal in a URI path: only spaces, %, #, ? and non-ASCII get %-encoded
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class LandingFile:
    uri: str  # file:///... or s3://bucket/key: what lineage columns and quarantine rows name
    path: str  # the path inside its pyarrow filesystem
    size: int
    mtime: datetime  # UTC
    source: str
    entity: str
    dt: str  # YYYY-MM-DD, from the dt= folder
    name: str


def is_temporary(name: str) -> bool:
    """Hidden, marker or in-flight names: `.x`, `_SUCCESS`, `x.tmp`, `x.csv._COPYING_`, ..."""
    return name.startswith((".", "_")) or name.lower().endswith(IN_FLIGHT_SUFFIXES)


def is_complete(name: str, size: int) -> bool:
    """A file a reader may take: it has bytes and its writer has renamed it to its final name."""
    return bool(size) and size > 0 and not is_temporary(name)


def _valid_day(text: str) -> bool:
    try:
        return len(text) == 10 and date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def parse_key(relative: str) -> tuple[str, str, str, str] | None:
    """'shop/orders/dt=2024-06-03/a.csv' -> ('shop', 'orders', '2024-06-03', 'a.csv'); None when off-layout.

    Off-layout: another depth, a hidden or `_`-prefixed folder, or a dt= folder that is not a calendar date
    (`dt=latest`, `dt=2024-6-3`): such a file could never become a daily partition.
    """
    parts = relative.strip("/").split("/")
    if len(parts) != 4 or not parts[2].startswith("dt="):
        return None
    if any(not p or p.startswith((".", "_")) for p in parts[:2]) or not _valid_day(parts[2][3:]):
        return None
    return parts[0], parts[1], parts[2][3:], parts[3]


def _file_uri(root: str, root_path: str, path: str) -> str:
    """The URI of `path` spelled like the landing root (file URIs stay %-encoded, S3 keys stay raw)."""
    relative = path[len(root_path):].lstrip("/")
    if root.startswith("file://"):
        return f"{root}/{quote(relative, safe=_URI_SAFE)}"
    return f"{root}/{relative}"


def list_landing(settings: Settings, prefix: str | None = None) -> list[LandingFile]:
    """Every complete landing file, sorted by URI; `prefix` narrows the walk to e.g. 'shop/orders' or
    'shop/orders/dt=2024-06-03'. Works the same on file:// and s3:// (pyarrow pages through S3 listings)."""
    root = settings.landing.rstrip("/")
    base = f"{root}/{prefix.strip('/')}" if prefix and prefix.strip("/") else root
    _, root_path = filesystem_for(root, settings)
    root_path = root_path.rstrip("/")
    out = []
    for info in list_files(base, settings):
        relative = info.path[len(root_path):].lstrip("/")
        key = parse_key(relative)
        if key is None:
            if not any(p.startswith((".", "_")) for p in relative.split("/")) and not is_temporary(info.base_name):
                log.debug("landing: %s is off the <source>/<entity>/dt=YYYY-MM-DD/<file> layout; ignored", relative)
            continue
        if not is_complete(key[3], info.size or 0):
            continue
        mtime = info.mtime.astimezone(timezone.utc) if info.mtime is not None else _EPOCH
        out.append(LandingFile(_file_uri(root, root_path, info.path), info.path, int(info.size), mtime, *key))
    return sorted(out, key=lambda f: f.uri)


def landed_days(settings: Settings, prefixes: Iterable[str] | None = None) -> dict[str, set[str]]:
    """{'source/entity': the days it has complete files for}: one listing of the landing zone, or of each of
    `prefixes` ('shop/orders') only."""
    out: dict[str, set[str]] = {}
    for files in [list_landing(settings)] if prefixes is None else [list_landing(settings, p) for p in prefixes]:
        for f in files:
            out.setdefault(f"{f.source}/{f.entity}", set()).add(f.dt)
    return out


def files_for(settings: Settings, landing: LandingSource, dt: str) -> list[LandingFile]:
    """The complete files of one entity and day."""
    return [f for f in list_landing(settings, f"{landing.prefix}/dt={dt}")
            if (f.source, f.entity, f.dt) == (landing.source, landing.entity, dt)]
