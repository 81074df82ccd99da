"""The IO manager: overwrites exactly the partitions a run was asked for and records what it wrote."""
from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc
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

from lakehouse.engine.overlap import alongside
from lakehouse.errors import LakehouseError
from lakehouse.model.partitions import batch_days
from lakehouse.pipeline.materializations import newest_landing
from lakehouse.pipeline.registry import get_spec
from lakehouse.resources import LakehouseResource
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


def share_seconds(seconds: dict[str, float], partitions: int) -> dict[str, float]:
    """A step's `seconds.*` as each of its partitions' share: one Spark job served them all, so summing every
    partition's materialization gives the step's time."""
    return {k: round(float(getattr(v, "value", v)) / max(partitions, 1), 3) for k, v in seconds.items()}


def _visible(spec, obj) -> list[str]:
    names = obj.column_names if isinstance(obj, pa.Table) else obj.columns
    return [c for c in names if c not in spec.pii and not c.startswith("_")]


def _heads(spec, obj: pa.Table | DataFrame, partitions: list[str], rows: int = 5) -> dict:
    """{partition: its first rows} (or {None: the first rows}) in one Spark job; PII and lineage never read."""
    visible = _visible(spec, obj)
    if not partitions or "dt" not in visible:
        head = obj.select(visible).slice(0, rows) if isinstance(obj, pa.Table) else obj.select(*visible).limit(rows).toArrow()
        return {key: head for key in partitions or [None]}
    if isinstance(obj, pa.Table):
        table = obj.select(visible)
    elif len(partitions) == 1:  # one day (a landed day's run): a plain limit, no window and its shuffle
        from pyspark.sql import functions as F

        table = obj.select(*visible).where(F.col("dt") == partitions[0]).limit(rows).toArrow()
    else:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        first = F.row_number().over(Window.partitionBy("dt").orderBy(F.lit(1)))
        table = (obj.select(*visible).where(F.col("dt").isin(partitions)).withColumn("__n", first)
                 .where(F.col("__n") <= rows).drop("__n").toArrow())
    return {key: table.filter(pc.equal(table["dt"], key)).slice(0, rows) for key in partitions}


def _bronze_sources(spec) -> list:
    if spec.layer == "bronze":
        return [spec]
    found = {}
    for up in spec.upstreams:
        if up.table != spec.id:
            found.update({s.id: s for s in _bronze_sources(get_spec(up.table))})
    return list(found.values())


def _landing_of(spec, context: OutputContext, partitions: list[str]) -> dict[str, datetime | None]:
    """{gold partition: newest landing time of the files it was built from}, as bronze recorded it."""
    if spec.layer != "gold" or not partitions:
        return {}
    bronze, instance = _bronze_sources(spec), context.step_context.instance
    return {key: newest_landing(instance, bronze, batch_days(spec, [key])) for key in partitions}


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
        heads: dict = {}
        def preview():
            with watch("preview"):  # beside the write: its seconds overlap the write's
                heads.update(_heads(spec, obj, partitions))

        try:  # each partition's preview is read beside the commit (the batch is cached), not after it
            with alongside(preview):
                result, glue_name = self.lakehouse.publish(spec, obj, partitions, watch)
        except LakehouseError as exc:  # e.g. a column type change: retrying cannot help
            raise Failure(description=str(exc), allow_retries=False) from exc
        published = datetime.now(timezone.utc)
        # what holds for the whole table goes on every partition's materialization ...
        metadata = {
            "dagster/row_count": result.rows,
            "dagster/uri": result.uri,
            "dagster/column_schema": table_schema(result.schema),
            "format": result.format,
        }
        if len(partitions) > 1:
            metadata["batch"] = f"{partitions[0]}..{partitions[-1]} ({len(partitions)} partitions in one step)"
        if result.version is not None:
            metadata["delta_version"] = result.version
        if result.added_columns:
            metadata["added_columns"] = MetadataValue.json(result.added_columns)
        if glue_name:
            metadata["dagster/table_name"] = glue_name
        if not partitions:
            metadata["preview"] = MetadataValue.md(preview_markdown(heads[None], hidden=tuple(spec.pii)))
            metadata.update(watch.metadata())
        context.add_output_metadata(metadata)
        # ... and what is each partition's own on that partition: its rows' preview, its share of the step's
        # seconds and, for gold, how long after its files landed it was published
        landed = _landing_of(spec, context, partitions)
        for key in partitions:
            own = {"preview": MetadataValue.md(preview_markdown(heads[key], hidden=tuple(spec.pii))),
                   **share_seconds(watch.metadata(), len(partitions))}
            if landed.get(key):
                own["landed_at"] = landed[key].isoformat()
                own["landing_to_publish_seconds"] = round((published - landed[key]).total_seconds(), 1)
            context.step_context.add_asset_metadata(own, asset_key=context.asset_key, partition_key=key)

    def load_input(self, context: InputContext) -> DataFrame:
        # One door for reads: the model step reads its upstreams itself (pipeline/assets.py), because what a batch
        # needs of each is a window of partitions (same day, look-back, as-of, history) checked against the
        # warehouse, which Dagster's input partition mappings cannot say. No asset takes a table as an input.
        raise NotImplementedError(f"{'.'.join(context.asset_key.path)}: tables are read by the model step "
                                  "(lakehouse.pipeline.model_step), not passed as Dagster inputs")
