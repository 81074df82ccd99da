"""The code location `make dev` loads: everything is built from the table registry."""
from datetime import timedelta

from dagster import (
    AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus, Definitions,
                     build_last_update_freshness_checks, build_sensor_for_freshness_checks, in_process_executor)

from lakehouse.automation.maintenance import lakehouse_maintenance, maintenance_schedule
from lakehouse.automation.sensors import build_landing_sensor

from lakehouse.engine.spark import SparkResource
from lakehouse.io_manager import LakehouseIOManager
from lakehouse.jobs import build_jobs
from lakehouse.resources import LakehouseResource
from lakehouse.tables.assets import build_assets
from lakehouse.tables.registry import all_specs


def build_definitions() -> Definitions:
    specs = all_specs()
    lakehouse = LakehouseResource()
    assets = build_assets(specs)
    gold = [a for a, s in zip(assets, specs) if s.layer == "gold" and s.partitioning == "daily"]
    freshness = build_last_update_freshness_checks(assets=gold, lower_bound_delta=timedelta(hours=36))
    return Definitions(
        assets=assets,
        asset_checks=freshness,
        jobs=[*build_jobs(specs), lakehouse_maintenance],
        schedules=[maintenance_schedule],
        sensors=[
            build_landing_sensor(tuple(s for s in specs if s.layer == "bronze")),
            AutomationConditionSensorDefinition("lakehouse_automation", target=AssetSelection.all(),
                                                default_status=DefaultSensorStatus.RUNNING,
                                                minimum_interval_seconds=15),
            build_sensor_for_freshness_checks(freshness_checks=freshness, default_status=DefaultSensorStatus.RUNNING),
        ],
        resources={"lakehouse": lakehouse, "spark": SparkResource(),
                   "io_manager": LakehouseIOManager(lakehouse=lakehouse)},
        # One process, one SparkSession: the JVM starts once per run, not once per step.
        executor=in_process_executor,
    )


defs = build_definitions()
