"""Whether a batch's upstream partitions are there to read: a missing partition is never read as empty.

What a day needs of each upstream is declared in the spec (`Upstream.need`); presence is judged in the warehouse
being read, not in Dagster's records (two warehouses may share one Dagster storage), except that a day whose
latest materialization published no rows is there, empty, though it holds no files.
"""
from __future__ import annotations

from lakehouse.model.keys import FILES
from lakehouse.model.partitions import add_days, batch_days, upstream_partitions
from lakehouse.model.spec import TableSpec
from lakehouse.pipeline.materializations import latest_metadata
from lakehouse.pipeline.registry import get_spec, landing_sources

# What a partition with no data says when the reason is that no file arrived for it: waiting, not failing.
NOTHING_LANDED = "nothing landed for this day"


def nothing_landed(spec: TableSpec, keys: list[str], landed: dict[str, set[str]]) -> list[str]:
    """The keys none of whose days has a file in any landing source of the table (`landed`: {prefix: days}, as
    `LandingZone.landed_days` lists them). A table fed only by a database or a stream never says so."""
    sources = [landed.get(prefix, set()) for prefix in landing_sources(spec.id)]
    return [key for key in keys if sources and not any(day in have for have in sources
                                                       for day in batch_days(spec, [key]))]


def span(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]}"


def describe_missing(missing: dict[str, list[str]]) -> str:
    """One line: what each missing day lacks (days with the same lack are grouped)."""
    days_by_reason: dict[str, list[str]] = {}
    for day, reasons in sorted(missing.items()):
        for reason in reasons:
            days_by_reason.setdefault(reason, []).append(day)
    return "; ".join(f"{reason} (for {', '.join(days) if len(days) <= 3 else f'{days[0]}..{days[-1]}, {len(days)} days'})"
                     for reason, days in days_by_reason.items())


def missing_upstreams(spec: TableSpec, keys: list[str], present: dict[str, list[str]], warehouse: str
                      ) -> dict[str, list[str]]:
    """{partition key: what it lacks} for each key whose upstreams, as the spec says it needs them
    (`Upstream.needs`), are not all in the warehouse: a missing partition is never read as empty."""
    out: dict[str, list[str]] = {}
    alternatives = [up.table for up in spec.upstreams if up.needs == "any"]
    for key in keys:
        if alternatives and not any(set(batch_days(spec, [key])) <= set(present.get(t, [])) for t in alternatives):
            out.setdefault(key, []).append(f"none of {' / '.join(alternatives)} has {key} in {warehouse}")
        for up in spec.upstreams:
            if up.table == spec.id or up.needs in ("optional", "any"):
                continue
            have = present.get(up.table, [])
            if up.needs == "day":
                lacking = [d for d in batch_days(spec, [key]) if d not in set(have)]
                if lacking:
                    out.setdefault(key, []).append(f"{up.table} has no partition {span(lacking)} in {warehouse}")
            elif not upstream_partitions(up, spec, [key], have):
                days = batch_days(spec, [key])
                first = days[0] if up.window == "month" else add_days(days[0], -up.lookback_days)
                out.setdefault(key, []).append(f"{up.table} has no partition from {first} to {days[-1]} in {warehouse}")
    return out


def published_empty(instance, spec: TableSpec, days: list[str], present: dict[str, list[str]]
                     ) -> dict[str, set[str]]:
    """{upstream: its days among `days` that are absent from the warehouse because their latest materialization
    published no rows (a database day with no rows, a day whose rows were all quarantined) - not because
    nothing arrived (a landing day without files is never materialized, or says it read no files)."""
    out: dict[str, set[str]] = {}
    for up in spec.upstreams:
        lacking = [d for d in days if d not in set(present[up.table])]
        if up.table == spec.id or not lacking:
            continue
        for day, meta in latest_metadata(instance, get_spec(up.table), lacking).items():
            if meta.get("dagster/row_count") == 0 and meta.get(FILES) != 0:
                out.setdefault(up.table, set()).add(day)
    return out
