"""When each table materializes on its own: bronze on request (landing sensor), silver and gold follow.

`AutomationCondition.eager()` only looks at the latest time partition, so a late file for an older day
would never reach gold. Dropping that clause makes every partition whose upstream changed eligible, and
`~any_deps_missing()` keeps the condition from reaching back to days that have no data at all.
"""
from __future__ import annotations

from dagster import AssetKey, AssetSelection, AutomationCondition

from lakehouse.tables.spec import TableSpec


def condition_for(spec: TableSpec) -> AutomationCondition | None:
    if spec.layer == "bronze":
        return None
    upstream_changed = (AutomationCondition.newly_missing() | AutomationCondition.any_deps_updated()).since_last_handled()
    guards = (~AutomationCondition.any_deps_in_progress() & ~AutomationCondition.in_progress()
              & AutomationCondition.all_deps_blocking_checks_passed())
    if spec.partitioning == "monthly":
        # a month in progress always has days still to come: refresh it as its days arrive
        return (AutomationCondition.any_deps_updated().since_last_handled() & guards).with_label("month_follows_days")
    optional = [AssetKey(u.table.split(".")) for u in spec.upstreams if u.needs == "any"]
    missing = ~AutomationCondition.any_deps_missing()
    if optional:  # alternative sources (need="any"): wait for the required ones and for at least one of these
        missing = missing.ignore(AssetSelection.assets(*optional)) & ~AutomationCondition.all_deps_match(
            AutomationCondition.missing() & ~AutomationCondition.will_be_requested()).allow(
            AssetSelection.assets(*optional))
    return (upstream_changed & missing & guards).with_label("follows_upstream_any_day")
