"""The billing export runs every day at 00:30 UTC for the day before (the `billing_daily` job, bronze to gold).

Thirty minutes after midnight leaves room for rows committed just before midnight; the export reads one
consistent snapshot, so a row committed later with a created_at of yesterday is only picked up by re-running
yesterday (safe: a re-run replaces the day's partitions).
"""
from __future__ import annotations

from datetime import timedelta

from dagster import RunRequest, ScheduleEvaluationContext, schedule


@schedule(job_name="billing_daily", cron_schedule="30 0 * * *", execution_timezone="UTC",
          name="billing_export_schedule", description="Export yesterday (UTC) from PostgreSQL, bronze to gold.")
def billing_export_schedule(context: ScheduleEvaluationContext):
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return RunRequest(run_key=f"billing-{day}", partition_key=day)
