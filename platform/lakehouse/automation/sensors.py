"""The landing sensor: one bronze run per new or changed (entity, day) batch of landed files.

Exactly once: each batch is fingerprinted by the names, sizes, modification times (and S3 ETags) of its
complete files. The cursor, which the Dagster instance stores (so it survives daemon restarts), holds
    {"v": 2, "watermark": <newest LastModified seen>, "batches": {"source/entity/dt": fingerprint},
     "pending": [batches landed for a day that has no partition yet]}
and the run key is "source/entity/dt@fingerprint", so Dagster itself refuses a duplicate even when a cursor
update is lost. A new file in an already processed day changes the fingerprint and re-runs that day.
Files still being written (zero bytes, temporary names) are ignored until they are complete.

Only batches with a file modified after `watermark - settle` are re-fingerprinted. On S3 that filter is
`dagster_aws.s3.sensor.get_objects(since_last_modified=...)`, which pages through ListObjectsV2. Its test is
a strict ">", and S3 stamps an object with the second its upload *started*, so several objects can share the
watermark's second and a slow upload can appear after a newer one: the `settle` overlap re-reads those, and
the fingerprints keep the overlap from requesting anything twice.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from dagster import AssetKey, DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from lakehouse.config import Settings
from lakehouse.ingest.landing import LandingFile, is_complete, list_landing, parse_key
from lakehouse.resources import LakehouseResource
from lakehouse.tables.partitions import DAILY, START_DATE
from lakehouse.tables.spec import TableSpec

SETTLE = timedelta(minutes=10)
SENSOR_NAME = "landing_sensor"


@dataclass
class LandingCursor:
    watermark: datetime | None = None
    batches: dict[str, str] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, raw: str | None) -> "LandingCursor":
        if not raw:
            return cls()
        data = json.loads(raw)
        if "v" not in data:  # version 1: a plain {batch: fingerprint} map, no watermark
            return cls(batches=data)
        mark = data.get("watermark")
        return cls(datetime.fromisoformat(mark) if mark else None, data["batches"], set(data.get("pending", [])))

    def dumps(self) -> str:
        return json.dumps({"v": 2, "watermark": self.watermark.isoformat() if self.watermark else None,
                           "batches": self.batches, "pending": sorted(self.pending)}, sort_keys=True)


def batch_key(f: LandingFile) -> str:
    return f"{f.source}/{f.entity}/{f.dt}"


def fingerprint(files: list[LandingFile], etags: dict[str, str] | None = None) -> str:
    etags = etags or {}
    parts = sorted((f.name, f.size, str(f.mtime), etags.get(f.uri, "")) for f in files)
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:16]


def batches(files: list[LandingFile]) -> dict[str, str]:
    """{"source/entity/dt": fingerprint of its files}."""
    grouped: dict[str, list[LandingFile]] = defaultdict(list)
    for f in files:
        grouped[batch_key(f)].append(f)
    return {key: fingerprint(group) for key, group in grouped.items()}


class _S3Landing:
    """The landing zone on S3, listed with dagster-aws's paginated `get_objects`."""

    def __init__(self, settings: Settings):
        import boto3

        self.bucket, _, prefix = settings.landing[len("s3://"):].partition("/")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client("s3", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region)

    def objects(self, under: str = "", since: datetime | None = None) -> tuple[list[LandingFile], dict, datetime | None]:
        """(complete files, their ETags, newest LastModified of any object listed)."""
        from dagster_aws.s3.sensor import get_objects

        files, etags, newest = [], {}, None
        for obj in get_objects(self.bucket, self.prefix + under, since_last_modified=since, client=self.client):
            newest = max(newest, obj["LastModified"]) if newest else obj["LastModified"]
            key = parse_key(obj["Key"][len(self.prefix):])
            if key and is_complete(key[3], obj.get("Size", 0)):
                f = LandingFile(f"s3://{self.bucket}/{obj['Key']}", f"{self.bucket}/{obj['Key']}", obj["Size"],
                                obj["LastModified"], *key)
                files.append(f)
                etags[f.uri] = obj.get("ETag", "")
        return files, etags, newest


def list_landed(settings: Settings) -> list[LandingFile]:
    """Every complete landing file; on S3 through dagster-aws's paginated listing (past 1,000 keys)."""
    if settings.landing.startswith("s3://"):
        return _S3Landing(settings).objects()[0]
    return list_landing(settings)


def _changed_at(f: LandingFile) -> datetime:
    """A local rename keeps the file's mtime but moves its ctime: a `.tmp` renamed late still counts as new."""
    st = os.stat(f.path)
    return datetime.fromtimestamp(max(st.st_mtime, st.st_ctime), timezone.utc)


def changed_batches(settings: Settings, since: datetime | None, also: set[str] = frozenset()
                    ) -> tuple[dict[str, str], datetime | None]:
    """({batch: fingerprint} of every batch with a file modified after `since` plus the batches in `also`,
    newest modification time seen). `since=None` fingerprints every batch."""
    if settings.landing.startswith("s3://"):
        s3 = _S3Landing(settings)
        recent, etags, newest = s3.objects(since=since)
        grouped: dict[str, list[LandingFile]] = defaultdict(list)
        if since is None:
            for f in recent:
                grouped[batch_key(f)].append(f)
        else:  # a changed batch is fingerprinted over all its files, old ones included
            for key in {batch_key(f) for f in recent} | set(also):
                source, entity, dt = key.split("/")
                files, more_etags, _ = s3.objects(f"{source}/{entity}/dt={dt}/")
                etags.update(more_etags)
                grouped[key] = files
        return {k: fingerprint(v, etags) for k, v in grouped.items() if v}, newest
    files = list_landing(settings)
    changed = {f.uri: _changed_at(f) for f in files}
    newest = max(changed.values(), default=None)
    dirty = {batch_key(f) for f in files if since is None or changed[f.uri] > since} | set(also)
    return {k: v for k, v in batches(files).items() if k in dirty}, newest


def evaluate_landing(settings: Settings, cursor: LandingCursor, by_prefix: dict[str, TableSpec],
                     settle: timedelta = SETTLE, log=None) -> tuple[list[RunRequest], LandingCursor]:
    """One tick: the run requests for new or changed batches and the cursor to store after them."""
    since = cursor.watermark - settle if cursor.watermark else None
    found, newest = changed_batches(settings, since, cursor.pending)
    last_day = DAILY.get_last_partition_key() or START_DATE
    seen, pending, requests, unknown = dict(cursor.batches), set(), [], set()
    for key, fp in sorted(found.items()):
        if seen.get(key) == fp:
            continue
        prefix, dt = key.rsplit("/", 1)
        spec = by_prefix.get(prefix)
        if spec is None or dt < START_DATE:
            unknown.add(key)
            continue
        if dt > last_day:  # a day with no partition yet: look again on every tick until it has one
            pending.add(key)
            continue
        requests.append(RunRequest(run_key=f"{key}@{fp}", partition_key=dt,
                                   asset_selection=[AssetKey(spec.asset_key_path)],
                                   tags={"lakehouse/landing_batch": key, "lakehouse/landing_fingerprint": fp}))
        seen[key] = fp
    if unknown and log:
        log.warning(f"landing batches with no bronze table or before {START_DATE}: {sorted(unknown)[:10]}")
    # forget batches older than bronze retention (counted from the newest day seen) to keep the cursor small
    newest_day = max((k.rsplit("/", 1)[1] for k in seen), default=date.today().isoformat())
    horizon = (date.fromisoformat(newest_day) - timedelta(days=settings.retention_days["bronze"])).isoformat()
    watermark = max(filter(None, [cursor.watermark, newest]), default=None)
    if watermark and watermark.tzinfo is None:
        watermark = watermark.replace(tzinfo=timezone.utc)
    kept = {k: v for k, v in seen.items() if k.rsplit("/", 1)[1] >= horizon}
    return requests, LandingCursor(watermark, kept, pending)


def build_landing_sensor(bronze: tuple[TableSpec, ...], job_name: str = "lakehouse_daily",
                         settle: timedelta = SETTLE):
    by_prefix = {s.landing.prefix: s for s in bronze if s.landing}

    @sensor(name=SENSOR_NAME, job_name=job_name, minimum_interval_seconds=15,
            default_status=DefaultSensorStatus.RUNNING,
            description="Requests the bronze partition of every new or changed batch of landed files.")
    def landing_sensor(context: SensorEvaluationContext, lakehouse: LakehouseResource):
        requests, cursor = evaluate_landing(lakehouse.settings(), LandingCursor.parse(context.cursor), by_prefix,
                                            settle, context.log)
        context.update_cursor(cursor.dumps())
        return requests or SkipReason("no new or changed landing batches")

    return landing_sensor
