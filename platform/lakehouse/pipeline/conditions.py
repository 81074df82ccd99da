"""When each table materializes on its own: bronze on request (landing sensor), silver and gold follow.

A landed day's run already carries the day's silver and gold (automation/sensors.py); a table it built after
its upstreams is not requested again (`since_last_handled` resets on the table's own newer materialization).
Automation builds the rest: monthly tables, a table whose upstreams landed in different runs, the downstream of
Kafka- and database-fed bronze, and days whose upstream was re-materialized by hand.

`AutomationCondition.eager()` only looks at the latest time partition, so a late file for an older day
would never reach gold. Dropping that clause makes every partition whose upstream changed eligible.

As few runs as Dagster allows: every clause accepts an upstream that "will be requested" on the same tick, so
one tick requests a landed day's silver *and* gold together and the automation sensor launches them as one run
per partition. Dagster's own `all_deps_blocking_checks_passed` accepts only checks that will be requested, and
our checks are executed with their asset rather than requested on their own, so it made gold wait a tick (and a
run) behind silver; here an upstream that will be requested passes, and a blocking check that fails inside that
run stops its downstream there (Dagster's run machinery).

A partition waits while any upstream partition is missing and is not being requested (a source that delivered
nothing for the day): the UI shows that clause, labelled, as what it waits for. The model step itself checks the
warehouse it reads as well (pipeline/assets.py), so a partition Dagster believes present but the warehouse lacks
is never read as empty.
"""
from __future__ import annotations

from dagster import AssetKey, AssetSelection, AutomationCondition

from lakehouse.model.spec import TableSpec

WAITS = "no upstream partition missing (else it waits for it)"


def _deps_checks_passed() -> AutomationCondition:
    return AutomationCondition.all_deps_match(
        AutomationCondition.will_be_requested()
        | AutomationCondition.all_checks_match(AutomationCondition.check_passed(), blocking_only=True)
    ).with_label("upstream blocking checks passed (or upstream runs with it)")


def condition_for(spec: TableSpec) -> AutomationCondition | None:
    if spec.layer == "bronze":
        return None
    waits = ~AutomationCondition.any_deps_missing()
    alternatives = [AssetKey(u.table.split(".")) for u in spec.upstreams if u.needs == "any"]
    if alternatives:  # alternative sources (Upstream.need "any"): wait for the others and for one of these
        waits = waits.ignore(AssetSelection.assets(*alternatives)) & ~AutomationCondition.all_deps_match(
            AutomationCondition.missing() & ~AutomationCondition.will_be_requested()).allow(
            AssetSelection.assets(*alternatives))
    waits = waits.with_label(WAITS)
    guards = ((~AutomationCondition.any_deps_in_progress()).with_label("no upstream in progress")
              & (~AutomationCondition.in_progress()).with_label("not in progress") & _deps_checks_passed())
    if spec.partitioning == "monthly":
        # a month in progress always has days still to come: refresh it as its days arrive
        return (AutomationCondition.any_deps_updated().since_last_handled() & guards).with_label("month_follows_days")
    upstream_changed = (AutomationCondition.newly_missing() | AutomationCondition.any_deps_updated()).since_last_handled()
    # the wait comes first so the UI shows it for every partition, not only for those whose upstream changed
    return (waits & upstream_changed & guards).with_label("follows_upstream_any_day")
