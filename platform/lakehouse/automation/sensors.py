"""The landing sensor: one run per landed day (a landed backlog of days: one run over its range), holding the bronze table of every entity whose batch is new
and every daily table downstream of them in the landing job, up to gold.

The day's run carries the day's path to gold, so gold does not wait for a second run (and the automation tick
before it) and, as steps go highest `steps_to_gold` first, for the side tables no gold reads: one landed day of
every commerce entity on 2 cores, gold fresh 28.4 s after landing instead of 31.5 s (means of three alternating
runs each); ten days landed at once, 297 s and 11 runs instead of 332 s and 21. A downstream table whose other
upstream has not landed for the day waits inside the run (its step says what it waits for and publishes
nothing); the automation sensor builds it once that upstream arrives, and builds what needs other partitioning
(monthly).

Exactly once: each (entity, day) batch is fingerprinted by the names, sizes, modification times (and S3 ETags)
of its complete files (`fingerprints.py`). Before requesting a batch the sensor looks at the latest
materialization of that bronze partition: bronze records the fingerprint of the files it read, so a batch
already materialized from the same files is never requested again, whichever path materialized it (demo, CLI,
backfill or an earlier tick). The cursor, which the Dagster instance stores (so it survives daemon restarts), holds
    {"v": 2, "watermark": <newest LastModified seen>, "batches": {"source/entity/dt": fingerprint},
     "pending": [batches landed for a day that has no partition yet]}
and the run key is "dt@<fingerprint of the day's requested batches>", so Dagster itself refuses a duplicate
even when a cursor update is lost. A new file in an already processed day changes that entity's fingerprint
and re-runs the day for the changed entities only: the others' bronze would be rewritten with the same rows
and, worse, wake automation for every table downstream of them.
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
from typing import Callable

from dagster import AssetKey, DagsterInstance, DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from lakehouse.automation.fingerprints import FINGERPRINT, LANDED_BY_SENSOR, LandedBatch, S3Landing, fingerprint, latest_metadata
from lakehouse.config import Settings
from lakehouse.jobs import LANDING, job_name, job_tables
from lakehouse.ingest.landing import LandingFile, list_landing
from lakehouse.resources import LakehouseResource
from lakehouse.runs import RANGE_END, RANGE_START
from lakehouse.tables.registry import downstream
from lakehouse.tables.spec import TableSpec

SETTLE = timedelta(minutes=10)
MAX_RUN_DAYS = 31  # a longer backlog goes in runs of a month: each still one JVM, and a failure costs less
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


def batches(files: list[LandingFile], etags: dict[str, str] | None = None) -> dict[str, LandedBatch]:
    """{"source/entity/dt": its batch (file count, fingerprint, newest mtime)}."""
    grouped: dict[str, list[LandingFile]] = defaultdict(list)
    for f in files:
        grouped[batch_key(f)].append(f)
    return {key: LandedBatch(len(group), fingerprint(group, etags), max(f.mtime for f in group))
            for key, group in grouped.items()}


def list_landed(settings: Settings) -> list[LandingFile]:
    """Every complete landing file; on S3 through dagster-aws's paginated listing (past 1,000 keys)."""
    if settings.landing.startswith("s3://"):
        return S3Landing(settings).objects()[0]
    return list_landing(settings)


def _changed_at(f: LandingFile) -> datetime:
    """A local rename keeps the file's mtime but moves its ctime: a `.tmp` renamed late still counts as new."""
    st = os.stat(f.path)
    return datetime.fromtimestamp(max(st.st_mtime, st.st_ctime), timezone.utc)


def changed_batches(settings: Settings, since: datetime | None, also: set[str] = frozenset()
                    ) -> tuple[dict[str, LandedBatch], datetime | None]:
    """({batch key: batch} of every batch with a file modified after `since` plus the batches in `also`,
    newest modification time seen). `since=None` fingerprints every batch."""
    if settings.landing.startswith("s3://"):
        s3 = S3Landing(settings)
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
        return batches([f for group in grouped.values() for f in group], etags), newest
    files = list_landing(settings)
    changed = {f.uri: _changed_at(f) for f in files}
    newest = max(changed.values(), default=None)
    dirty = {batch_key(f) for f in files if since is None or changed[f.uri] > since} | set(also)
    return {k: v for k, v in batches(files).items() if k in dirty}, newest


# {day: fingerprint} of the latest materialization of a bronze table's partitions (None: never materialized)
Materialized = Callable[[TableSpec, list[str]], dict[str, str | None]]


def materialized_fingerprints(instance: DagsterInstance) -> Materialized:
    """What bronze recorded on the latest materialization of each asked-for partition (two queries a table)."""
    def lookup(spec: TableSpec, days: list[str]) -> dict[str, str | None]:
        return {day: meta.get(FINGERPRINT) for day, meta in latest_metadata(instance, spec, days).items()}

    return lookup


def _entities(ready: dict[str, LandedBatch]) -> set[str]:
    return {key.rsplit("/", 1)[0] for key in ready}


def _backlogs(by_day: dict[str, dict[str, LandedBatch]]) -> list[list[str]]:
    """Landed days grouped into runs: consecutive days whose new batches are of the same entities go together
    (a backlog of ten days is one single-run backfill, one JVM and one Spark job per table over all ten), up to
    MAX_RUN_DAYS; a gap or a different set of entities starts a new run, so a run's range never holds a day it
    has no files for, and a late file re-runs only its own entity's day."""
    groups: list[list[str]] = []
    for dt in sorted(d for d, ready in by_day.items() if ready):
        if groups:
            last = groups[-1][-1]
            follows = date.fromisoformat(dt) - date.fromisoformat(last) == timedelta(days=1)
            if follows and _entities(by_day[dt]) == _entities(by_day[last]) and len(groups[-1]) < MAX_RUN_DAYS:
                groups[-1].append(dt)
                continue
        groups.append([dt])
    return groups


def _request(days: list[str], ready: dict[str, LandedBatch], by_prefix: dict[str, TableSpec],
             carried: dict[str, TableSpec]) -> RunRequest:
    """One run for landed `days` (one day, or a backlog as a partition range): the bronze table of every
    entity in `ready`, then the `carried` tables downstream of them."""
    keys = sorted(ready)
    specs = list({s.id: s for s in (by_prefix[k.rsplit("/", 1)[0]] for k in keys)}.values())
    path = [carried[t] for t in sorted(downstream(s.id for s in specs)) if t in carried]
    combined = hashlib.sha1(json.dumps([(k, ready[k].fingerprint) for k in keys]).encode()).hexdigest()[:16]
    span = days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"
    tags = {"lakehouse/day": span, "lakehouse/domain": ",".join(sorted({s.domain for s in specs})),
            LANDED_BY_SENSOR: combined,
            "lakehouse/landing_files": str(sum(b.files for b in ready.values())),
            "lakehouse/landing_batches": ",".join(sorted({k.rsplit("/", 1)[0] for k in keys}))}
    if len(days) > 1:
        tags.update({RANGE_START: days[0], RANGE_END: days[-1]})
    return RunRequest(run_key=f"{span}@{combined}", partition_key=days[0] if len(days) == 1 else None,
                      asset_selection=[AssetKey(s.asset_key_path) for s in (*specs, *path)], tags=tags)


def evaluate_landing(settings: Settings, cursor: LandingCursor, by_prefix: dict[str, TableSpec],
                     settle: timedelta = SETTLE, log=None, materialized: Materialized | None = None,
                     carried: dict[str, TableSpec] | None = None) -> tuple[list[RunRequest], LandingCursor]:
    """One tick: one run request per day with new or changed batches, and the cursor to store after them.

    `materialized` tells what bronze last recorded for a partition; a batch it already holds is not requested.
    `carried` ({id: spec}) are the tables a day's run may take downstream of its bronze tables."""
    since = cursor.watermark - settle if cursor.watermark else None
    found, newest = changed_batches(settings, since, cursor.pending)
    first_day = settings.start_date
    last_day = datetime.now(timezone.utc).date().isoformat()  # the newest partition (end_offset=1: today)
    seen, pending, unknown = dict(cursor.batches), set(), set()
    by_day: dict[str, dict[str, LandedBatch]] = defaultdict(dict)
    for key, batch in sorted(found.items()):
        if seen.get(key) == batch.fingerprint:
            continue
        prefix, dt = key.rsplit("/", 1)
        if prefix not in by_prefix or dt < first_day:
            unknown.add(key)
            continue
        if dt > last_day:  # a day with no partition yet: look again on every tick until it has one
            pending.add(key)
            continue
        by_day[dt][key] = batch
    if materialized is not None:  # trust what bronze recorded: the same files are never read twice
        days_of: dict[str, list[str]] = defaultdict(list)
        for dt, ready in by_day.items():
            for key in ready:
                days_of[key.rsplit("/", 1)[0]].append(dt)
        for prefix, days in days_of.items():
            for dt, fp in materialized(by_prefix[prefix], days).items():
                key = f"{prefix}/{dt}"
                if dt in by_day and key in by_day[dt] and by_day[dt][key].fingerprint == fp:
                    seen[key] = by_day[dt].pop(key).fingerprint
    requests = []
    for days in _backlogs(by_day):
        ready = {key: batch for dt in days for key, batch in by_day[dt].items()}
        requests.append(_request(days, ready, by_prefix, carried or {}))
        seen.update({key: batch.fingerprint for key, batch in ready.items()})
    if unknown and log:
        log.warning(f"landing batches with no bronze table or before {first_day}: {sorted(unknown)[:10]}")
    # forget batches older than bronze retention (counted from the newest day seen) to keep the cursor small
    newest_day = max((k.rsplit("/", 1)[1] for k in seen), default=date.today().isoformat())
    horizon = (date.fromisoformat(newest_day) - timedelta(days=settings.retention_days["bronze"])).isoformat()
    watermark = max(filter(None, [cursor.watermark, newest]), default=None)
    if watermark and watermark.tzinfo is None:
        watermark = watermark.replace(tzinfo=timezone.utc)
    kept = {k: v for k, v in seen.items() if k.rsplit("/", 1)[1] >= horizon}
    return requests, LandingCursor(watermark, kept, pending)


def build_landing_sensor(specs: tuple[TableSpec, ...], job: str = job_name(LANDING, "daily"),
                         settle: timedelta = SETTLE):
    """`specs`: the tables of `job`; its landing-fed bronze tables are requested, its other daily tables
    (not stream-fed) are carried downstream of them."""
    by_prefix = {s.landing.prefix: s for s in specs if s.layer == "bronze" and s.landing}
    carried = {s.id: s for s in job_tables(specs, "daily") if s.layer != "bronze"}

    @sensor(name=SENSOR_NAME, job_name=job, minimum_interval_seconds=15,
            default_status=DefaultSensorStatus.RUNNING,
            description="Requests one run per landed day: the bronze tables whose batch of files is new or changed "
            "and not yet materialized from those very files, and the day's tables downstream of them up to gold.")
    def landing_sensor(context: SensorEvaluationContext, lakehouse: LakehouseResource):
        requests, cursor = evaluate_landing(lakehouse.settings(), LandingCursor.parse(context.cursor), by_prefix,
                                            settle, context.log, materialized_fingerprints(context.instance), carried)
        context.update_cursor(cursor.dumps())
        return requests or SkipReason("no new or changed landing batches")

    return landing_sensor
