"""Asset jobs. A job holds one partitioning, so each domain has a daily job (and a monthly one when it has
monthly tables); `lakehouse_daily` / `lakehouse_monthly` hold every table fed from the landing zone.

Domains fed by something else (a database export on a schedule) stay out of the lakehouse_* jobs, so a run
over the landing-fed tables never fails for want of a database it does not use. A stream-fed bronze table
(bronze.events_kafka) is in no job: the kafka_sensor requests it by offsets, not by day, and a day's run that
held it would skip its downstream tables whenever Kafka is off.
"""
from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from lakehouse.model import partitions
from lakehouse.model.spec import TableSpec
from lakehouse.pipeline.assets import asset_key
from lakehouse.pipeline.registry import landing_domains

LANDING = "lakehouse"  # the jobs of every landing-fed domain


def job_name(scope: str, partitioning: str) -> str:
    """`<domain>_daily`, `<domain>_monthly`, or `lakehouse_daily` / `lakehouse_monthly` for LANDING."""
    return f"{scope}_{partitioning}"


def job_tables(specs: tuple[TableSpec, ...], partitioning: str) -> tuple[TableSpec, ...]:
    """The tables of `specs` a job of that partitioning holds (stream-fed ones aside, see above)."""
    return tuple(s for s in specs if s.stream is None and s.partitioning == partitioning)


def _jobs_for(name: str, specs: tuple[TableSpec, ...], what: str, start: str):
    daily = [asset_key(s) for s in job_tables(specs, "daily")]
    monthly = [asset_key(s) for s in job_tables(specs, "monthly")]
    jobs = []
    if daily:
        jobs.append(define_asset_job(job_name(name, "daily"), selection=AssetSelection.assets(*daily), partitions_def=partitions.daily(start),
                                     description=f"Every daily table of {what}, bronze to gold, for the chosen days."))
    if monthly:
        jobs.append(define_asset_job(job_name(name, "monthly"), selection=AssetSelection.assets(*monthly),
                                     partitions_def=partitions.monthly(start), description=f"Monthly tables of {what}."))
    return jobs


def landing_fed(specs: tuple[TableSpec, ...]) -> tuple[TableSpec, ...]:
    """The tables of the landing-fed domains: the `lakehouse_*` jobs (stream-fed ones aside, see above)."""
    domains = landing_domains(specs)
    return tuple(s for s in specs if s.domain in domains)


def build_jobs(specs: tuple[TableSpec, ...], start: str):
    jobs = _jobs_for(LANDING, landing_fed(specs), "the landing-fed domains", start)
    for domain in sorted({s.domain for s in specs}):
        jobs += _jobs_for(domain, tuple(s for s in specs if s.domain == domain), f"the {domain} domain", start)
    return jobs
