"""Where a table lives: its own data, its quarantine and its refused batches, and the format of each.

Every caller (the run's writes, maintenance, status, the query layer, tests) asks a `TableLocation`, so the
warehouse layout is written down once:

    <warehouse>/<layer>/<name>                 the table
    <warehouse>/quarantine/<layer>_<name>      rows set aside from it, with the reason
    <warehouse>/_rejected/<layer>/<name>       whole batches a blocking check refused
    <warehouse>/ops/<name>                     the platform's own tables (quality.history), all tables in each
"""
from __future__ import annotations

from dataclasses import dataclass

from lakehouse.config import Settings
from lakehouse.model.spec import TableSpec

QUARANTINE = "quarantine"
OPS = "ops"


def table_uri(warehouse: str, layer: str, name: str) -> str:
    return f"{warehouse.rstrip('/')}/{layer}/{name}"


def quarantine_name(table_id: str) -> str:
    """bronze.shop_orders -> bronze_shop_orders, the quarantine table's name in the `quarantine` layer."""
    return table_id.replace(".", "_")


@dataclass(frozen=True)
class TableLocation:
    spec: TableSpec
    warehouse: str
    format: str  # "delta" or "parquet"

    @classmethod
    def of(cls, spec: TableSpec, settings: Settings) -> "TableLocation":
        return cls(spec, settings.warehouse.rstrip("/"), spec.format or settings.table_format)

    @property
    def uri(self) -> str:
        return table_uri(self.warehouse, self.spec.layer, self.spec.name)

    @property
    def quarantine_name(self) -> str:
        return quarantine_name(self.spec.id)

    @property
    def quarantine_id(self) -> str:
        return f"{QUARANTINE}.{self.quarantine_name}"

    @property
    def quarantine_uri(self) -> str:
        return table_uri(self.warehouse, QUARANTINE, self.quarantine_name)

    @property
    def side_format(self) -> str:
        """Quarantine and refused batches are Delta when the table is, Parquet otherwise."""
        return "delta" if self.format == "delta" else "parquet"

    @property
    def rejected_uri(self) -> str:
        return f"{self.warehouse}/_rejected/{self.spec.layer}/{self.spec.name}"
