"""Database-fed domains export yesterday on a schedule: one run of the domain's daily job, bronze to gold.

- billing at 00:30 UTC: thirty minutes after midnight leaves room for rows committed just before midnight;
  the export reads one consistent snapshot, so a row committed later with yesterday's created_at is only
  picked up by re-running yesterday (safe: a re-run replaces the day's partitions).
- behavior at 02:00 UTC: the analytics warehouse rebuilds yesterday's engagement in its nightly load; two hours
  leave it room, and a day the load rewrites later is picked up by re-running that day.
"""
from __future__ import annotations

from datetime import timedelta

from dagster import RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from lakehouse.jobs import job_name

# domain -> (cron in UTC, where its rows come from)
EXPORTS = {"billing": ("30 0 * * *", "PostgreSQL"), "behavior": ("0 2 * * *", "the analytics warehouse (Redshift)")}


def export_schedule(domain: str, cron: str, source: str) -> ScheduleDefinition:
    @schedule(job_name=job_name(domain, "daily"), cron_schedule=cron, execution_timezone="UTC",
              name=f"{domain}_export_schedule", description=f"Export yesterday (UTC) from {source}, bronze to gold.")
    def _export(context: ScheduleEvaluationContext):
        day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
        return RunRequest(run_key=f"{domain}-{day}", partition_key=day)

    return _export


def export_schedules() -> list[ScheduleDefinition]:
    return [export_schedule(domain, cron, source) for domain, (cron, source) in EXPORTS.items()]
