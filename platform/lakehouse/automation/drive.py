"""The daemon's work in one process: landing sensor tick, then automation ticks, each request run at once.

`make dev` does the same through the sensor and automation daemons; this path has no polling interval and
no run-launch overhead, so it is what tests use and what measures the platform's own landed-file-to-gold time.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from dagster import (AssetKey, DagsterEventType, DagsterInstance, Definitions, RunRequest, SkipReason,
                     build_sensor_context, evaluate_automation_conditions)

from lakehouse.automation.sensors import SENSOR_NAME
from lakehouse.jobs import LANDING, job_name
from lakehouse.pipeline.registry import all_specs, get_spec

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class Drive:
    landing_cursor: str | None = None
    automation_cursor: object = None
    runs: list[tuple[str, list[str], str | None]] = field(default_factory=list)  # (kind, tables, partition)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: list = field(default_factory=list)  # (kind, tables, seconds): runs and automation ticks
    steps: list = field(default_factory=list)  # (step, ended at: wall-clock seconds, seconds), every run's


def _execute(defs: Definitions, instance: DagsterInstance, request: RunRequest, kind: str, drive: Drive) -> None:
    began = time.monotonic()
    keys = list(request.asset_selection or [])
    spec = get_spec(".".join(keys[0].path))  # a request holds tables of one partitioning
    # the landing sensor's day runs may hold several landing-fed domains; automation's hold one domain
    job = defs.resolve_job_def(job_name(LANDING if kind == "landing" else spec.domain, spec.partitioning))
    result = job.execute_in_process(run_config=QUIET, instance=instance, asset_selection=keys, partition_key=request.partition_key,
                                    tags=dict(request.tags or {}), raise_on_error=False)
    tables = sorted(".".join(k.path) for k in keys)
    drive.runs.append((kind, tables, request.partition_key or (request.tags or {}).get(
        "dagster/asset_partition_range_start")))
    drive.timings.append((kind, tables, round(time.monotonic() - began, 2)))
    if not result.success:
        drive.failures.append(f"{kind} {tables} {request.partition_key}")
    started = {}
    for entry in instance.all_logs(result.run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}):
        if entry.dagster_event_type == DagsterEventType.STEP_START:
            started[entry.step_key] = entry.timestamp
        elif entry.step_key in started:
            drive.steps.append((entry.step_key, entry.timestamp, round(entry.timestamp - started[entry.step_key], 2)))


def _run_requests(evaluation) -> list[RunRequest]:
    """One run per job and partition, holding every asset requested for it (as the automation daemon groups)."""
    by_run = defaultdict(set)
    for spec in all_specs():
        key = AssetKey(spec.asset_key_path)
        for partition in evaluation.get_requested_partitions(key) if evaluation.get_num_requested(key) else ():
            by_run[(spec.domain, spec.partitioning, partition)].add(key)
    return [RunRequest(asset_selection=sorted(keys, key=lambda k: k.path), partition_key=partition)
            for (_, _, partition), keys in sorted(by_run.items())]


def drive(defs: Definitions, instance: DagsterInstance, state: Drive | None = None, max_rounds: int = 12) -> Drive:
    """Tick the landing sensor once, then automation until it requests nothing more (or `max_rounds`)."""
    state = state or Drive()
    started = time.monotonic()
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    with build_sensor_context(instance=instance, cursor=state.landing_cursor,
                              resources=defs.resources) as context:
        result = sensor(context)
        state.landing_cursor = context.cursor
    for request in ([] if isinstance(result, SkipReason) else list(result)):
        _execute(defs, instance, request, "landing", state)
    for _ in range(max_rounds):
        began = time.monotonic()
        evaluation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=state.automation_cursor)
        state.timings.append(("tick", [], round(time.monotonic() - began, 2)))
        state.automation_cursor = evaluation.cursor
        requests = _run_requests(evaluation)
        if not requests:
            break
        for request in requests:
            _execute(defs, instance, request, "automation", state)
    state.seconds = time.monotonic() - started
    return state
