"""Fingerprints of landed file batches: what the landing sensor compares and what bronze records.

A batch is the complete files of one entity and day. Its fingerprint hashes their names, sizes, modification
times (and S3 ETags), so the same files always give the same fingerprint, whoever lists them. Bronze writes
it on each partition's materialization; the sensor trusts it and never requests a batch that was already
materialized from the same files, whichever path materialized it (demo, CLI, backfill or the sensor itself).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from lakehouse.config import Settings
from lakehouse.ingest.landing import LandingFile, files_for, is_complete, parse_key
from lakehouse.tables.spec import LandingSource

# Materialization metadata bronze writes on each partition.
LANDED_BY_SENSOR = "lakehouse/landing_fingerprint"  # the tag (the batches' fingerprint) of a landing sensor's run
FINGERPRINT = "landing_fingerprint"
FILES = "landing_files"
LANDED_AT = "landed_at"


def fingerprint(files: list[LandingFile], etags: dict[str, str] | None = None) -> str:
    etags = etags or {}
    parts = sorted((f.name, f.size, str(f.mtime), etags.get(f.uri, "")) for f in files)
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:16]


class S3Landing:
    """The landing zone on S3, listed with dagster-aws's paginated `get_objects` (ETags included)."""

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


@dataclass(frozen=True)
class LandedBatch:
    files: int
    fingerprint: str
    landed_at: datetime | None  # newest modification time of its files

    def metadata(self) -> dict:
        return {FINGERPRINT: self.fingerprint, FILES: self.files,
                LANDED_AT: self.landed_at.isoformat() if self.landed_at else ""}


def landed_batches(settings: Settings, landing: LandingSource, days: list[str]) -> dict[str, LandedBatch]:
    """{day: the batch of one entity and day as the sensor sees it} (same listing, same fingerprint)."""
    s3 = S3Landing(settings) if settings.landing.startswith("s3://") else None
    out = {}
    for dt in days:
        if s3 is not None:
            files, etags, _ = s3.objects(f"{landing.prefix}/dt={dt}/")
            files = [f for f in files if (f.source, f.entity, f.dt) == (landing.source, landing.entity, dt)]
        else:
            files, etags = files_for(settings, landing, dt), {}
        out[dt] = LandedBatch(len(files), fingerprint(files, etags), max((f.mtime for f in files), default=None))
    return out


def latest_metadata(instance, spec, days: list[str]) -> dict[str, dict]:
    """{day: metadata values} of the latest materialization of each of `days` of a table (two queries)."""
    from dagster import AssetKey, AssetRecordsFilter, DagsterEventType

    key = AssetKey(spec.asset_key_path)
    latest = instance.event_log_storage.get_latest_storage_id_by_partition(
        key, DagsterEventType.ASSET_MATERIALIZATION, set(days))
    if not latest:
        return {}
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, storage_ids=list(latest.values())), limit=len(latest)).records
    return {r.partition_key: {k: v.value for k, v in r.asset_materialization.metadata.items()} for r in records}


def newest_landing(instance, bronze: list, days: list[str]) -> datetime | None:
    """The newest `landed_at` bronze recorded for `days` of the given bronze tables."""
    stamps = [datetime.fromisoformat(meta[LANDED_AT]) for spec in bronze
              for meta in latest_metadata(instance, spec, days).values() if meta.get(LANDED_AT)]
    return max(stamps, default=None)
