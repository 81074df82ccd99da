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
of its complete files (`ingest/landing.py::LandingZone`, which lists the landing zone for bronze as well).
Before requesting a batch the sensor looks at the latest materialization of that bronze partition: bronze
records the fingerprint of the files it read, so a batch already materialized from the same files is never
requested again, whichever path materialized it (demo, CLI, backfill or an earlier tick). The cursor, which the Dagster instance stores (so it survives daemon restarts), holds
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
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Callable

from dagster import AssetKey, DagsterInstance, DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from lakehouse.config import Settings
from lakehouse.ingest.landing import LandedBatch, LandingZone
from lakehouse.jobs import LANDING, job_name, job_tables
from lakehouse.model.keys import FINGERPRINT, LANDED_BY_SENSOR
from lakehouse.model.partitions import add_days
from lakehouse.model.spec import TableSpec
from lakehouse.pipeline.materializations import latest_metadata
from lakehouse.pipeline.registry import downstream
from lakehouse.resources import LakehouseResource
from lakehouse.runs import RANGE_END, RANGE_START

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
            follows = add_days(last, 1) == dt
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
    found, newest = LandingZone(settings).changed_batches(since, cursor.pending)
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
    horizon = add_days(newest_day, -settings.retention_days["bronze"])
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
