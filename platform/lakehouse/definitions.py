"""The code location `make dev` loads: everything is built from the table registry."""
from dagster import Definitions, in_process_executor

from lakehouse.engine.spark import SparkResource
from lakehouse.io_manager import LakehouseIOManager
from lakehouse.jobs import build_jobs
from lakehouse.resources import LakehouseResource
from lakehouse.tables.assets import build_assets
from lakehouse.tables.registry import all_specs


def build_definitions() -> Definitions:
    specs = all_specs()
    lakehouse = LakehouseResource()
    return Definitions(
        assets=build_assets(specs),
        jobs=build_jobs(specs),
        resources={"lakehouse": lakehouse, "spark": SparkResource(),
                   "io_manager": LakehouseIOManager(lakehouse=lakehouse)},
        # One process, one SparkSession: the JVM starts once per run, not once per step.
        executor=in_process_executor,
    )


defs = build_definitions()
