"""Asset jobs: one for daily tables, one for monthly ones (a job holds one partitioning)."""
from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from lakehouse.tables.partitions import DAILY, MONTHLY
from lakehouse.tables.assets import asset_key
from lakehouse.tables.spec import TableSpec


def build_jobs(specs: tuple[TableSpec, ...]):
    daily = [asset_key(s) for s in specs if s.partitioning == "daily"]
    monthly = [asset_key(s) for s in specs if s.partitioning == "monthly"]
    jobs = [define_asset_job("lakehouse_daily", selection=AssetSelection.assets(*daily), partitions_def=DAILY,
                             description="Every daily table, bronze to gold, for the chosen days.")]
    if monthly:
        jobs.append(define_asset_job("lakehouse_monthly", selection=AssetSelection.assets(*monthly),
                                     partitions_def=MONTHLY, description="Monthly gold tables."))
    return jobs
