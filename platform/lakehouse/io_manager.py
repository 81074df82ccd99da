"""The IO manager: overwrites exactly the partitions a run was asked for and records what it wrote."""
from __future__ import annotations

import pyarrow as pa
from dagster import (
    ConfigurableIOManager,
    Failure,
    InputContext,
    MetadataValue,
    OutputContext,
    TableColumn,
    TableSchema,
)
from pyspark.sql import DataFrame

from lakehouse.engine.spark import get_spark
from lakehouse.errors import LakehouseError
from lakehouse.resources import LakehouseResource
from lakehouse.tables.registry import get_spec
from lakehouse.timing import Stopwatch


def table_schema(schema: pa.Schema) -> TableSchema:
    return TableSchema(columns=[TableColumn(f.name, str(f.type)) for f in schema])


def preview_markdown(table: pa.Table, rows: int = 5, hidden: tuple[str, ...] = ()) -> str:
    """The first rows as a Markdown table; lineage and `hidden` (PII) columns never appear."""
    head = table.slice(0, rows).to_pylist()
    if not head:
        return "_no rows_"
    cols = [c for c in table.column_names if not c.startswith("_") and c not in hidden][:10]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in head:
        lines.append("| " + " | ".join(str(row[c])[:40] for c in cols) + " |")
    return "\n".join(lines)


def _spec_for(context: OutputContext | InputContext):
    return get_spec(".".join(context.asset_key.path))


class LakehouseIOManager(ConfigurableIOManager):
    lakehouse: LakehouseResource

    def handle_output(self, context: OutputContext, obj: pa.Table | DataFrame | None) -> None:
        if obj is None:
            return
        spec = _spec_for(context)
        partitions = list(context.asset_partition_keys) if context.has_asset_partitions else []
        watch = Stopwatch()
        try:
            result, glue_name = self.lakehouse.publish(spec, obj, partitions, watch)
        except LakehouseError as exc:  # e.g. a column type change: retrying cannot help
            raise Failure(description=str(exc), allow_retries=False) from exc
        metadata = {
            "dagster/row_count": result.rows,
            "dagster/uri": result.uri,
            "dagster/column_schema": table_schema(result.schema),
            "partitions": MetadataValue.json(result.partitions),
            "format": result.format,
        }
        if result.version is not None:
            metadata["delta_version"] = result.version
        if result.added_columns:
            metadata["added_columns"] = MetadataValue.json(result.added_columns)
        if glue_name:
            metadata["dagster/table_name"] = glue_name
        visible = [c for c in (obj.column_names if isinstance(obj, pa.Table) else obj.columns)
                   if c not in spec.pii and not c.startswith("_")]
        head = obj.select(visible).slice(0, 5) if isinstance(obj, pa.Table) else obj.select(*visible).limit(5).toArrow()
        metadata["preview"] = MetadataValue.md(preview_markdown(head, hidden=tuple(spec.pii)))
        metadata.update(watch.metadata())
        context.add_output_metadata(metadata)

    def load_input(self, context: InputContext) -> DataFrame:
        spec = _spec_for(context.upstream_output) if context.upstream_output else _spec_for(context)
        partitions = list(context.asset_partition_keys) if context.has_asset_partitions else None
        return self.lakehouse.read_df(get_spark(self.lakehouse.settings()), spec, partitions)
