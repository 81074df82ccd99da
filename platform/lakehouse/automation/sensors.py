"""The landing sensor: one bronze run per new or changed (entity, day) batch of landed files.

Exactly once: each batch is fingerprinted by the names, sizes and modification times of its files. The
cursor (kept by the Dagster instance, so it survives daemon restarts) maps batch -> fingerprint, and the
run key is batch + fingerprint, so Dagster itself refuses a duplicate even if a cursor update were lost.
A new file in an already processed day changes the fingerprint and re-runs that day. Files still being
written (zero bytes, temporary names) are ignored until they are complete.
"""

import hashlib
import json
from collections import defaultdict
from datetime import date, timedelta

from dagster import AssetKey, DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from lakehouse.config import Settings
from lakehouse.ingest.landing import LandingFile, is_complete, list_landing, parse_key
from lakehouse.resources import LakehouseResource
from lakehouse.tables.partitions import START_DATE
from lakehouse.tables.spec import TableSpec


def list_landed(settings: Settings) -> list[LandingFile]:
    """Every complete landing file; on S3 through dagster-aws's paginated listing (past 1,000 keys)."""
    if not settings.landing.startswith("s3://"):
        return list_landing(settings)
    import boto3
    from dagster_aws.s3.sensor import get_objects

    bucket, _, prefix = settings.landing[len("s3://"):].partition("/")
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    client = boto3.client("s3", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region)
    out = []
    # No since_last_modified: objects sharing one timestamp would be missed by its strict ">" filter; the
    # fingerprint in the cursor is what tells new from seen.
    for obj in get_objects(bucket, prefix, client=client):
        key = parse_key(obj["Key"][len(prefix):])
        if key and is_complete(key[3], obj.get("Size", 0)):
            out.append(LandingFile(f"s3://{bucket}/{obj['Key']}", f"{bucket}/{obj['Key']}", obj["Size"],
                                   obj.get("LastModified"), *key))
    return out


def batches(files: list[LandingFile]) -> dict[str, str]:
    """{"source/entity/dt": fingerprint of its files}."""
    grouped: dict[str, list[LandingFile]] = defaultdict(list)
    for f in files:
        grouped[f"{f.source}/{f.entity}/{f.dt}"].append(f)
    return {
        key: hashlib.sha1(json.dumps(sorted((f.name, f.size, str(f.mtime)) for f in group)).encode()).hexdigest()[:16]
        for key, group in grouped.items()
    }


def build_landing_sensor(bronze: tuple[TableSpec, ...], job_name: str = "lakehouse_daily"):
    by_prefix = {s.landing.prefix: s for s in bronze if s.landing}

    @sensor(name="landing_sensor", job_name=job_name, minimum_interval_seconds=15,
            default_status=DefaultSensorStatus.RUNNING,
            description="Requests the bronze partition of every new or changed batch of landed files.")
    def landing_sensor(context: SensorEvaluationContext, lakehouse: LakehouseResource):
        settings = lakehouse.settings()
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        today = date.today().isoformat()
        requests, unknown = [], set()
        for key, fingerprint in sorted(batches(list_landed(settings)).items()):
            if seen.get(key) == fingerprint:
                continue
            prefix, dt = key.rsplit("/", 1)
            spec = by_prefix.get(prefix)
            if spec is None or not (START_DATE <= dt <= today):
                unknown.add(key)
                continue
            requests.append(RunRequest(run_key=f"{key}@{fingerprint}", partition_key=dt,
                                       asset_selection=[AssetKey(spec.asset_key_path)],
                                       tags={"lakehouse/landing_batch": key}))
            seen[key] = fingerprint
        if unknown:
            context.log.warning(f"landing batches with no bronze table or outside {START_DATE}..{today}: "
                                f"{sorted(unknown)[:10]}")
        # forget batches older than bronze retention (counted from the newest day seen) to keep the cursor small
        newest = max((k.rsplit("/", 1)[1] for k in seen), default=today)
        horizon = (date.fromisoformat(newest) - timedelta(days=settings.retention_days["bronze"])).isoformat()
        context.update_cursor(json.dumps({k: v for k, v in seen.items() if k.rsplit("/", 1)[1] >= horizon}))
        return requests or SkipReason("no new or changed landing batches")

    return landing_sensor
