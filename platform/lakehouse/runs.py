"""Materializing a range of days as single runs: the daily job once, then the monthly job for its months."""
from __future__ import annotations

from dataclasses import dataclass, field

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from lakehouse.config import Settings
from lakehouse.jobs import LANDING, job_name
from lakehouse.model.partitions import month_of

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@dataclass
class RangeRun:
    results: list[ExecuteInProcessResult] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    def check_results(self) -> dict[str, dict[str, bool]]:
        """{table id: {check name: passed}} from every run, later runs winning."""
        out: dict[str, dict[str, bool]] = {}
        for result in self.results:
            for ev in result.get_asset_check_evaluations():
                table = ".".join(ev.asset_key.path)
                out.setdefault(table, {})[ev.check_name] = ev.passed
        return out

    def failures(self) -> list[str]:
        lines = []
        for result in self.results:
            for ev in result.all_events:
                if ev.is_step_failure and ev.step_failure_data and ev.step_failure_data.error:
                    err = ev.step_failure_data.user_failure_data
                    text = err.description if err and err.description else ev.step_failure_data.error.message
                    lines.append(f"{ev.step_key}: {text.strip()}")
        return lines


def instance_for_runs(settings: Settings) -> DagsterInstance:
    """The persistent instance when DAGSTER_HOME is set (runs show in the UI), otherwise a throwaway one."""
    return DagsterInstance.get() if settings.dagster_home else DagsterInstance.ephemeral()


def materialize_range(defs: Definitions, start: str, end: str, instance: DagsterInstance | None = None,
                      include_monthly: bool = True, log_level: str = "DEBUG", domain: str | None = None) -> RangeRun:
    """One run of the daily job over start..end, then one of the monthly job over the months touched.

    `domain` picks that domain's jobs; by default the lakehouse_* jobs (every landing-fed table).
    """
    instance = instance or instance_for_runs()
    daily, monthly = (job_name(domain or LANDING, p) for p in ("daily", "monthly"))
    has_daily, has_monthly = _has_job(defs, daily), _has_job(defs, monthly)
    if not has_daily and not has_monthly:
        raise KeyError(f"no jobs for domain {domain!r}")
    config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    run = RangeRun()
    if has_daily:
        run.results.append(defs.resolve_job_def(daily).execute_in_process(
            run_config=config, instance=instance, tags={RANGE_START: start, RANGE_END: end}, raise_on_error=False))
    if include_monthly and run.success and has_monthly:
        first, last = month_of(start), month_of(end)
        run.results.append(defs.resolve_job_def(monthly).execute_in_process(
            run_config=config, instance=instance, tags={RANGE_START: first, RANGE_END: last}, raise_on_error=False))
    return run


def _has_job(defs: Definitions, name: str) -> bool:
    try:
        defs.resolve_job_def(name)
        return True
    except Exception:  # dagster raises a plain DagsterInvariantViolationError for unknown jobs
        return False
