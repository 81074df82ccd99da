"""The lakehouse resource: one handle on settings, the table store, the quarantine and the Glue catalog."""
from __future__ import annotations

from typing import Sequence

import pyarrow as pa
from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_type

from lakehouse.catalog.delta_comments import sync_comments, with_comments
from lakehouse.catalog.glue import catalog_for
from lakehouse.config import Settings
from lakehouse.errors import LakehouseError
from lakehouse.model.spec import TableSpec
from lakehouse.quality.quarantine import QUARANTINE_SCHEMA
from lakehouse.storage.locations import TableLocation
from lakehouse.storage.stores import store_for
from lakehouse.storage.writes import WriteResult
from lakehouse.timing import Stopwatch


def _comments(spec: TableSpec) -> dict[str, str]:
    """The spec's column descriptions: comments in the Delta log and the Glue entry (Athena and Trino show them)."""
    return {c.name: c.description for c in spec.columns if c.description}


class LakehouseResource(ConfigurableResource):
    """Empty fields fall back to the environment (LAKEHOUSE_WAREHOUSE, ...), resolved at run time."""

    warehouse: str | None = None
    landing: str | None = None
    glue_prefix: str | None = None

    _resolved: Settings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # Once per run: every step and table of a run sees the same settings, read and checked one time.
        self._resolved = self._resolve()

    def settings(self) -> Settings:
        return self._resolved or self._resolve()

    def _resolve(self) -> Settings:
        base = Settings.from_env()
        return base.with_(
            warehouse=(self.warehouse or base.warehouse).rstrip("/"),
            landing=(self.landing or base.landing).rstrip("/"),
            glue_prefix=self.glue_prefix or base.glue_prefix,
        )

    def store(self):
        return store_for(self.settings())

    def location(self, spec: TableSpec) -> TableLocation:
        return TableLocation.of(spec, self.settings())

    def format_of(self, spec: TableSpec) -> str:
        return self.location(spec).format

    def uri_of(self, spec: TableSpec) -> str:
        return self.location(spec).uri

    # --- reading -------------------------------------------------------------------------------
    def partitions_of(self, spec: TableSpec) -> list[str]:
        return self.store().partitions(self.uri_of(spec), self.format_of(spec))

    def read_df(self, spark: SparkSession, spec: TableSpec, partitions: Sequence[str] | None,
                missing_ok: bool = False) -> DataFrame:
        """Read partitions as a DataFrame. A table that is not in this warehouse is an error naming table and
        warehouse (a missing upstream is never read as empty), unless `missing_ok` (a table's own history on
        its first run): then an empty frame of its declared columns."""
        store, uri, fmt = self.store(), self.uri_of(spec), self.format_of(spec)
        if not store.exists(uri, fmt):
            if not missing_ok:
                raise LakehouseError(f"{spec.id} is not in the warehouse {self.settings().warehouse} yet: "
                                     "materialize it first")
            if not spec.columns:
                raise LakehouseError(f"{spec.id} has no data yet and declares no columns to start from")
            ddl = ", ".join(f"`{c.name}` {c.type}" for c in spec.columns if c.name != "dt")
            if spec.landing is not None:  # the lineage columns the landing reader adds to every bronze row
                ddl += ", _rescued_data string, _source_file string, _line_number bigint, _ingested_at timestamp"
            return spark.createDataFrame([], f"{ddl}, dt string")
        return store.read_df(spark, uri, fmt, partitions)

    # --- writing -------------------------------------------------------------------------------
    def publish(self, spec: TableSpec, data: pa.Table | DataFrame, partitions: Sequence[str],
                watch: Stopwatch | None = None) -> tuple[WriteResult, str | None]:
        """Overwrite exactly `partitions` of the table, then bring its Glue entry up to date."""
        store, fmt, uri = self.store(), self.format_of(spec), self.uri_of(spec)
        watch = watch or Stopwatch()
        comments = _comments(spec)
        with watch("write"):
            if isinstance(data, DataFrame):  # a new Delta table's first commit carries the descriptions
                result = store.write_df(spec.id, uri, fmt, with_comments(data, comments), partitions)
            else:
                result = store.write(spec.id, uri, fmt, data, partitions)
        with watch("catalog"):
            glue_name = self.register_table(spec, result)
        return result, glue_name

    def write_quarantine(self, spec: TableSpec, rows: pa.Table | DataFrame, partitions: Sequence[str],
                         count: int | None = None) -> WriteResult | None:
        """Replace this table's quarantine rows for the batch's days (a re-run never duplicates them).

        `count`, when the caller knows it, spares a clean batch the Spark write (a job and a commit of about a
        second): nothing is written once the table exists, unless earlier rows of those days must be cleared,
        and creating or clearing is a commit to the log alone."""
        where = self.location(spec)
        uri, fmt, store = where.quarantine_uri, where.side_format, self.store()
        if count == 0:
            held = store.partitions(uri, fmt)  # a table holding days exists: no second read of its log
            if not set(partitions) & set(held) and (held or store.exists(uri, fmt)):
                return None  # nothing to add and nothing to clear; the (empty) table exists for readers already
            rows = QUARANTINE_SCHEMA.empty_table()  # the store writes no rows without a Spark job
        if isinstance(rows, DataFrame):
            rows = rows.select(*[rows[f.name].cast(from_arrow_type(f.type, prefer_timestamp_ntz=False))
                                 .alias(f.name) for f in QUARANTINE_SCHEMA])
            result = store.write_df(where.quarantine_id, uri, fmt, rows, list(partitions))
        else:
            rows = rows.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA)
            result = store.write(where.quarantine_id, uri, fmt, rows, list(partitions))
        self._register("quarantine", where.quarantine_name, f"Rows set aside from {spec.id}, with the reason.", result, "daily", {})
        return result

    def write_rejected(self, spec: TableSpec, df: DataFrame, partitions: Sequence[str]) -> str:
        """Keep a batch a blocking gate refused, outside the published table, for a person to inspect."""
        where = self.location(spec)
        self.store().write_df(f"rejected.{spec.id}", where.rejected_uri, where.side_format, df, partitions)
        return where.rejected_uri

    def register_table(self, spec: TableSpec, result: WriteResult) -> str | None:
        """Bring the table's Glue entry up to date with what was written (when the catalog is on), with the
        spec's column descriptions as comments."""
        return self._register(spec.layer, spec.name, spec.description, result, spec.partitioning, spec.tags, _comments(spec))

    def _register(self, layer, name, description, result: WriteResult, partitioning, tags,
                  comments: dict[str, str] | None = None) -> str | None:
        catalog = catalog_for(self.settings())
        if catalog is None:
            return None
        if comments and result.format == "delta":  # Athena and Trino read a Delta table's columns from its log
            sync_comments(result.uri, self.settings(), comments)
        return catalog.register(
            layer=layer, name=name, description=description, schema=result.schema, location=result.uri,
            fmt=result.format, partitioning=partitioning, tags=dict(tags), column_comments=comments,
        )
