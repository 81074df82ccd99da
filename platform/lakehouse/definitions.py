"""The code location `make dev` loads: everything is built from the table registry."""
from dagster import AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus, Definitions, \
    in_process_executor

from lakehouse.automation.freshness import build_freshness
from lakehouse.automation.kafka_sensor import kafka_sensor
from lakehouse.automation.maintenance import lakehouse_maintenance, maintenance_schedule
from lakehouse.automation.schedules import export_schedules
from lakehouse.automation.sensors import build_landing_sensor
from lakehouse.config import Settings
from lakehouse.engine.spark import SparkResource
from lakehouse.jobs import build_jobs, landing_fed
from lakehouse.pipeline.assets import build_assets
from lakehouse.pipeline.io_manager import LakehouseIOManager
from lakehouse.pipeline.registry import all_specs
from lakehouse.resources import LakehouseResource


def build_definitions() -> Definitions:
    specs, settings = all_specs(), Settings.from_env()
    lakehouse = LakehouseResource()
    assets = build_assets(specs, settings.start_date)
    freshness_checks, freshness_sensor = build_freshness(assets, specs, settings)
    return Definitions(
        assets=assets,
        asset_checks=freshness_checks,
        jobs=[*build_jobs(specs, settings.start_date), lakehouse_maintenance],
        schedules=[maintenance_schedule, *export_schedules()],
        sensors=[
            build_landing_sensor(landing_fed(specs)),  # a landed day's run carries its tables up to gold
            # silver and gold follow by their automation conditions (pipeline/conditions.py)
            AutomationConditionSensorDefinition("lakehouse_automation", target=AssetSelection.all(),
                                                default_status=DefaultSensorStatus.RUNNING,
                                                minimum_interval_seconds=15),
            freshness_sensor,
            kafka_sensor,  # automation/kafka_sensor.py: skips unless LAKEHOUSE_KAFKA_BOOTSTRAP is set
        ],
        resources={"lakehouse": lakehouse, "spark": SparkResource(),
                   "io_manager": LakehouseIOManager(lakehouse=lakehouse)},
        # One process, one SparkSession: the JVM starts once per run, not once per step.
        executor=in_process_executor,
    )


defs = build_definitions()
