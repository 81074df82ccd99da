"""What earlier materializations recorded, read back from the Dagster instance (two queries a table)."""
from __future__ import annotations

from datetime import datetime

from lakehouse.model.keys import LANDED_AT
from lakehouse.model.spec import TableSpec


def latest_metadata(instance, spec: TableSpec, days: list[str]) -> dict[str, dict]:
    """{day: metadata values} of the latest materialization of each of `days` of a table (two queries)."""
    from dagster import AssetKey, AssetRecordsFilter, DagsterEventType

    key = AssetKey(spec.asset_key_path)
    latest = instance.event_log_storage.get_latest_storage_id_by_partition(
        key, DagsterEventType.ASSET_MATERIALIZATION, set(days))
    if not latest:
        return {}
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, storage_ids=list(latest.values())), limit=len(latest)).records
    return {r.partition_key: {k: v.value for k, v in r.asset_materialization.metadata.items()} for r in records}


def newest_landing(instance, bronze: list[TableSpec], days: list[str]) -> datetime | None:
    """The newest `landed_at` bronze recorded for `days` of the given bronze tables."""
    stamps = [datetime.fromisoformat(meta[LANDED_AT]) for spec in bronze
              for meta in latest_metadata(instance, spec, days).values() if meta.get(LANDED_AT)]
    return max(stamps, default=None)
