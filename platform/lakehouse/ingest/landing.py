"""The landing zone: <landing>/<source>/<entity>/dt=YYYY-MM-DD/<file>.(csv|jsonl)[.gz].

One `LandingZone` lists it for everyone: the landing sensor (what changed since its cursor), the bronze step
(the batch it fingerprints before reading) and the executors' readers (the files they parse). On S3 every
listing goes through dagster-aws's paginated `get_objects` (sizes, modification times and ETags), so the
fingerprint the sensor compares and the one bronze records come from the very same listing.

Listing is what the landing sensor and the bronze readers agree on: a file counts once it is complete
(non-empty, not a temporary name) and sits exactly at the layout's depth under a `dt=` folder holding a real
calendar date. Everything else is left alone: Spark/Hadoop markers (`_SUCCESS`, `_temporary/`), hidden files,
uploads still in flight (`.tmp`, `.part`, `._COPYING_`, ...), and files off the layout.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime, timezone
from typing import Iterable
from urllib.parse import quote

from lakehouse.config import Settings
from lakehouse.model.keys import FILES, FINGERPRINT, LANDED_AT
from lakehouse.model.spec import LandingSource
from lakehouse.storage.filesystem import filesystem_for, list_files

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


def batch_key(f: LandingFile) -> str:
    """"source/entity/dt": one entity's files of one day, the unit the sensor requests and bronze reads."""
    return f"{f.source}/{f.entity}/{f.dt}"


def fingerprint(files: list[LandingFile], etags: dict[str, str] | None = None) -> str:
    """The names, sizes, modification times (and S3 ETags) of a batch's files, hashed: the same files always
    give the same fingerprint, whoever lists them."""
    etags = etags or {}
    parts = sorted((f.name, f.size, str(f.mtime), etags.get(f.uri, "")) for f in files)
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LandedBatch:
    files: int
    fingerprint: str
    landed_at: datetime | None  # newest modification time of its files

    @classmethod
    def of(cls, files: list[LandingFile], etags: dict[str, str] | None = None) -> LandedBatch:
        return cls(len(files), fingerprint(files, etags), max((f.mtime for f in files), default=None))

    def metadata(self) -> dict:
        """What bronze records on each partition's materialization (model/keys.py names the keys)."""
        return {FINGERPRINT: self.fingerprint, FILES: self.files,
                LANDED_AT: self.landed_at.isoformat() if self.landed_at else ""}


def batches(files: list[LandingFile], etags: dict[str, str] | None = None) -> dict[str, LandedBatch]:
    """{"source/entity/dt": its batch (file count, fingerprint, newest mtime)}."""
    grouped: dict[str, list[LandingFile]] = defaultdict(list)
    for f in files:
        grouped[batch_key(f)].append(f)
    return {key: LandedBatch.of(group, etags) for key, group in grouped.items()}


@dataclass(frozen=True)
class Listing:
    files: list[LandingFile]  # complete files, sorted by URI
    etags: dict[str, str]  # {uri: ETag} on S3, empty on local disk
    newest: datetime | None  # newest modification time of anything listed (complete or not, on S3)


class LandingZone:
    """The landing zone of `settings.landing`, on local disk (pyarrow) or S3 (dagster-aws's paginated lister)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.landing.rstrip("/")
        self.on_s3 = self.root.startswith("s3://")

    # -- listing --------------------------------------------------------------------------------------------

    def listing(self, prefix: str | None = None, since: datetime | None = None) -> Listing:
        """Every complete file under `prefix` ('shop/orders', 'shop/orders/dt=2024-06-03'; none: everything).
        `since` (S3 only): only objects modified after it, as dagster-aws's `since_last_modified` filters."""
        under = prefix.strip("/") if prefix and prefix.strip("/") else ""
        return self._s3(under, since) if self.on_s3 else self._local(under)

    def files(self, prefix: str | None = None) -> list[LandingFile]:
        return self.listing(prefix).files

    def files_for(self, landing: LandingSource, dt: str) -> list[LandingFile]:
        """The complete files of one entity and day."""
        return self._entity_day(landing, dt).files

    def _entity_day(self, landing: LandingSource, dt: str) -> Listing:
        listed = self.listing(f"{landing.prefix}/dt={dt}")
        return Listing([f for f in listed.files if (f.source, f.entity, f.dt) == (landing.source, landing.entity, dt)],
                       listed.etags, listed.newest)

    def landed_days(self, prefixes: Iterable[str] | None = None) -> dict[str, set[str]]:
        """{'source/entity': the days it has complete files for}: one listing of the landing zone, or of each of
        `prefixes` ('shop/orders') only."""
        out: dict[str, set[str]] = {}
        for files in [self.files()] if prefixes is None else [self.files(p) for p in prefixes]:
            for f in files:
                out.setdefault(f"{f.source}/{f.entity}", set()).add(f.dt)
        return out

    # -- batches and fingerprints ---------------------------------------------------------------------------

    def batches_of(self, landing: LandingSource, days: list[str]) -> dict[str, LandedBatch]:
        """{day: the batch of one entity and day}, fingerprinted exactly as the sensor fingerprints it."""
        out = {}
        for dt in days:
            listed = self._entity_day(landing, dt)
            out[dt] = LandedBatch.of(listed.files, listed.etags)
        return out

    def changed_batches(self, since: datetime | None, also: set[str] = frozenset()
                        ) -> tuple[dict[str, LandedBatch], datetime | None]:
        """({batch key: batch} of every batch with a file modified after `since` plus the batches in `also`,
        newest modification time seen). `since=None` fingerprints every batch."""
        if self.on_s3:
            recent = self.listing(since=since)
            if since is None:
                return batches(recent.files, recent.etags), recent.newest
            files, etags = [], dict(recent.etags)
            for key in {batch_key(f) for f in recent.files} | set(also):  # a changed batch: all its files, old ones too
                source, entity, dt = key.split("/")
                listed = self.listing(f"{source}/{entity}/dt={dt}")
                etags.update(listed.etags)
                files.extend(listed.files)
            return batches(files, etags), recent.newest
        files = self.files()
        changed = {f.uri: _changed_at(f) for f in files}
        newest = max(changed.values(), default=None)
        dirty = {batch_key(f) for f in files if since is None or changed[f.uri] > since} | set(also)
        return {k: v for k, v in batches(files).items() if k in dirty}, newest

    # -- the two listers ------------------------------------------------------------------------------------

    def _local(self, under: str) -> Listing:
        base = f"{self.root}/{under}" if under else self.root
        _, root_path = filesystem_for(self.root, self.settings)
        root_path = root_path.rstrip("/")
        out = []
        for info in list_files(base, self.settings):
            relative = info.path[len(root_path):].lstrip("/")
            key = parse_key(relative)
            if key is None:
                if not any(p.startswith((".", "_")) for p in relative.split("/")) and not is_temporary(info.base_name):
                    log.debug("landing: %s is off the <source>/<entity>/dt=YYYY-MM-DD/<file> layout; ignored", relative)
                continue
            if not is_complete(key[3], info.size or 0):
                continue
            mtime = info.mtime.astimezone(timezone.utc) if info.mtime is not None else _EPOCH
            out.append(LandingFile(_file_uri(self.root, root_path, info.path), info.path, int(info.size), mtime, *key))
        return Listing(sorted(out, key=lambda f: f.uri), {}, None)

    @cached_property
    def _s3_client(self):
        """One client per zone: a sensor tick lists each changed batch on its own."""
        import boto3

        keys = self.settings.aws_keys
        return boto3.client("s3", endpoint_url=self.settings.aws_endpoint_url, region_name=self.settings.aws_region,
                            **({"aws_access_key_id": keys.access_key, "aws_secret_access_key": keys.secret_key,
                                "aws_session_token": keys.session_token} if keys else {}))

    def _s3(self, under: str, since: datetime | None) -> Listing:
        from dagster_aws.s3.sensor import get_objects

        bucket, _, root_prefix = self.root[len("s3://"):].partition("/")
        root_prefix = root_prefix.strip("/") + "/" if root_prefix.strip("/") else ""
        files, etags, newest = [], {}, None
        for obj in get_objects(bucket, root_prefix + (under + "/" if under else ""), since_last_modified=since,
                               client=self._s3_client):
            newest = max(newest, obj["LastModified"]) if newest else obj["LastModified"]
            key = parse_key(obj["Key"][len(root_prefix):])
            if key and is_complete(key[3], obj.get("Size", 0)):
                f = LandingFile(f"s3://{bucket}/{obj['Key']}", f"{bucket}/{obj['Key']}", obj["Size"],
                                obj["LastModified"], *key)
                files.append(f)
                etags[f.uri] = obj.get("ETag", "")
        return Listing(sorted(files, key=lambda f: f.uri), etags, newest)


def _changed_at(f: LandingFile) -> datetime:
    """A local rename keeps the file's mtime but moves its ctime: a `.tmp` renamed late still counts as new."""
    st = os.stat(f.path)
    return datetime.fromtimestamp(max(st.st_mtime, st.st_ctime), timezone.utc)
