"""When each table materializes on its own: bronze on request (sensor), silver and gold follow upstream."""
from __future__ import annotations

from dagster import AutomationCondition

from lakehouse.tables.spec import TableSpec


def condition_for(spec: TableSpec) -> AutomationCondition | None:
    if spec.layer == "bronze":
        return None
    return AutomationCondition.eager()
