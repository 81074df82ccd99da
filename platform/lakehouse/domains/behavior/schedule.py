"""The behaviour export runs every day at 02:00 UTC for the day before (the `behavior_daily` job).

The analytics warehouse rebuilds yesterday's engagement in its nightly load; two hours after midnight leaves
it room. A day the load rewrites later is picked up by re-running that day (a re-run replaces its partitions).
"""
from __future__ import annotations

from datetime import timedelta

from dagster import RunRequest, ScheduleEvaluationContext, schedule


@schedule(job_name="behavior_daily", cron_schedule="0 2 * * *", execution_timezone="UTC",
          name="behavior_export_schedule", description="Export yesterday's customer behaviour from Redshift.")
def behavior_export_schedule(context: ScheduleEvaluationContext):
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    return RunRequest(run_key=f"behavior-{day}", partition_key=day)
