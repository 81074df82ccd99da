"""The tables a query may name: every registry table plus its quarantine table, and the platform's own tables
(`ops.partition_metrics`, `ops.partition_diffs`), with where each lives."""
from __future__ import annotations

from dataclasses import dataclass

from lakehouse.config import LAYERS, Settings
from lakehouse.model.spec import TableSpec
from lakehouse.pipeline.registry import all_specs
from lakehouse.quality.history import OPS_TABLES
from lakehouse.storage.locations import OPS, QUARANTINE, TableLocation, table_uri

DATABASES = (*LAYERS, QUARANTINE, OPS)


@dataclass(frozen=True)
class QueryTable:
    layer: str  # a layer, "quarantine" or "ops"
    name: str
    spec: TableSpec  # for a quarantine table: the table its rows were set aside from
    format: str

    @property
    def id(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def is_quarantine(self) -> bool:
        return self.layer == QUARANTINE

    @property
    def description(self) -> str:
        return (f"Rows set aside from {self.spec.id}, with the reason." if self.is_quarantine
                else self.spec.description)

    @property
    def pii(self) -> tuple[str, ...]:
        # a quarantined row keeps the whole source row as JSON in `record`, PII included
        return (("record",) if self.spec.pii else ()) if self.is_quarantine else tuple(self.spec.pii)

    def uri(self, settings: Settings) -> str:
        return table_uri(settings.warehouse, self.layer, self.name)

    def glue_name(self, settings: Settings) -> str | None:
        if settings.glue_prefix is None:
            return None
        return f"{settings.glue_database(self.layer).lower()}.{self.name.lower()}"


def known_tables(settings: Settings) -> dict[str, QueryTable]:
    """{"silver.orders": QueryTable, "quarantine.silver_orders": QueryTable, ..., "ops.partition_metrics": ...}
    in registry order, the ops tables last (numbers and column names only: no PII, no scope needed)."""
    out: dict[str, QueryTable] = {}
    where = [TableLocation.of(spec, settings) for spec in all_specs()]
    for w in where:
        out[w.spec.id] = QueryTable(w.spec.layer, w.spec.name, w.spec, w.format)
    for w in where:
        out[w.quarantine_id] = QueryTable(QUARANTINE, w.quarantine_name, w.spec, w.side_format)
    for spec in OPS_TABLES:
        out[spec.id] = QueryTable(OPS, spec.name, spec, "delta")
    return out
