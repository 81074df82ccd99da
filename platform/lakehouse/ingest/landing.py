"""The landing zone: <landing>/<source>/<entity>/dt=YYYY-MM-DD/<file>.(csv|jsonl)[.gz]."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from lakehouse.config import Settings
from lakehouse.storage.filesystem import filesystem_for, list_files
from lakehouse.tables.spec import LandingSource

# Writers still busy with a file use names like these; the file is picked up once it is renamed.
IN_FLIGHT_SUFFIXES = (".tmp", ".part", ".crc", "._COPYING_", ".inprogress")


@dataclass(frozen=True)
class LandingFile:
    uri: str
    path: str
    size: int
    mtime: datetime | None
    source: str
    entity: str
    dt: str
    name: str


def is_complete(name: str, size: int) -> bool:
    return size > 0 and not name.startswith((".", "_")) and not name.endswith(IN_FLIGHT_SUFFIXES)


def parse_key(relative: str) -> tuple[str, str, str, str] | None:
    """'shop/orders/dt=2024-06-03/a.csv' -> ('shop', 'orders', '2024-06-03', 'a.csv'); None when off-layout."""
    parts = relative.strip("/").split("/")
    if len(parts) != 4 or not parts[2].startswith("dt="):
        return None
    return parts[0], parts[1], parts[2][3:], parts[3]


def list_landing(settings: Settings, prefix: str | None = None) -> list[LandingFile]:
    root = settings.landing.rstrip("/")
    base = f"{root}/{prefix.strip('/')}" if prefix else root
    _, root_path = filesystem_for(root, settings)
    scheme = root.split("://", 1)[0] + "://" if "://" in root else ""
    out = []
    for info in list_files(base, settings):
        relative = info.path[len(root_path):].lstrip("/")
        key = parse_key(relative)
        if key is None or not is_complete(key[3], info.size or 0):
            continue
        mtime = info.mtime.astimezone(timezone.utc) if info.mtime else None
        out.append(LandingFile(f"{scheme}{info.path}" if scheme != "file://" else f"file://{info.path}",
                               info.path, info.size, mtime, *key))
    return sorted(out, key=lambda f: f.uri)


def files_for(settings: Settings, landing: LandingSource, dt: str) -> list[LandingFile]:
    return list_landing(settings, f"{landing.prefix}/dt={dt}")
