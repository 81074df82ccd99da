"""Glue entries so Athena can query every table: one database per layer, one table per spec.

Delta tables are registered the way Athena's native Delta Lake reader expects: an EXTERNAL_TABLE whose
location is the table root (the folder holding `_delta_log/`) with the table property `table_type=DELTA`.
Athena reads the schema, partitions and live files from the Delta log, so no partition keys are stored; the
column list is still written so the Glue console, Lake Formation, views and other engines see the schema. The
storage descriptor is the placeholder Spark and Trino write for a Delta table (LazySimpleSerDe with a `path`,
SequenceFile formats, `spark.sql.sources.provider=delta`): Trino (Athena v3's engine) refuses an entry without a
SerDe, and an engine that does not understand Delta fails on SequenceFile instead of reading every Parquet file
under the root, including ones the log has removed.

Parquet tables are Hive tables: `dt` is a string partition key and partition projection computes the
partitions from the query's `dt` predicate, so a new day is queryable without `MSCK REPAIR TABLE`,
`ALTER TABLE ADD PARTITION` or a crawler.

Registration is idempotent: an unchanged table is not written again, a grown schema updates the table in
place, and a column Glue knows but the new schema lacks is kept with its type (older files or partitions
may still hold it; dropping it would hide that data from Athena without anyone deciding so).
"""
from __future__ import annotations

from typing import Any, Mapping

import pyarrow as pa
from botocore.exceptions import ClientError  # light; boto3 itself is imported where a client is made

from lakehouse.catalog.types import MAX_COMMENT, glue_columns
from lakehouse.config import LAYERS, Settings
from lakehouse.errors import LakehouseError
from lakehouse.storage.locations import OPS, QUARANTINE

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
DELTA_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
DELTA_INPUT = "org.apache.hadoop.mapred.SequenceFileInputFormat"
DELTA_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveSequenceFileOutputFormat"

FORMATS = ("delta", "parquet")
# Athena projection settings per partitioning: (date format, interval unit).
# Monthly tables in this platform keep `dt` as the month's first day (Dagster's monthly partition keys,
# e.g. 2024-03-01), so their default format is the daily one, stepped by days too: Trino (Athena v3's engine)
# refuses a MONTHS interval on a date projection (it takes DAYS, HOURS, MINUTES, SECONDS), and the days
# between two months' first days are only empty prefixes.
PROJECTION = {
    "daily": ("yyyy-MM-dd", "DAYS"),
    "monthly": ("yyyy-MM-dd", "DAYS"),
}
# The supported date formats, each with the length of a value (a YYYY-MM-DD day cut to it). A `yyyy-MM` key is
# stepped by months: Athena reads it, Trino does not (no spec uses it).
FORMAT_LENGTH = {"yyyy-MM-dd": 10, "yyyy-MM": 7}
DEFAULT_FIRST_DAY = "2020-01-01"

MAX_DESCRIPTION = 2048  # Glue's limit for a table description
# Parameters this module owns: rewritten on every registration, never carried over from the old entry.
OWNED_PREFIXES = ("projection.", "lakehouse.")
OWNED_KEYS = {"storage.location.template", "table_type", "classification", "EXTERNAL", "spark.sql.sources.provider"}
EXTRA_LAYERS = (QUARANTINE, OPS)


def glue_location(location: str) -> str:
    """The location as Glue/Athena want it: s3:// (Spark's s3a:// and s3n:// are the same objects),
    no trailing slash. file:// locations pass through: moto stores them, real Athena could not read them."""
    location = location.rstrip("/")
    for scheme in ("s3a://", "s3n://"):
        if location.startswith(scheme):
            return "s3://" + location[len(scheme):]
    return location


def projection_parameters(location: str, partition_key: str = "dt", partitioning: str = "daily",
                          fmt: str | None = None, first_day: str = DEFAULT_FIRST_DAY) -> dict[str, str]:
    """Athena partition projection for a string date partition key laid out as <location>/<key>=<value>.

    The range runs from `first_day` (YYYY-MM-DD; a monthly table's from that month's first day) to NOW: a query
    without a `dt` filter makes Athena and Trino look under every projected day's prefix, so the range starts
    at the first partition a table can have (LAKEHOUSE_START_DATE), not years before it."""
    if partitioning not in PROJECTION:
        raise ValueError(f"partitioning must be one of {sorted(PROJECTION)}, not {partitioning!r}")
    default_fmt, unit = PROJECTION[partitioning]
    fmt = fmt or default_fmt
    if fmt not in FORMAT_LENGTH:
        raise ValueError(f"partition format must be one of {sorted(FORMAT_LENGTH)}, not {fmt!r}")
    unit = "MONTHS" if fmt == "yyyy-MM" else unit
    start = (first_day[:8] + "01" if partitioning == "monthly" else first_day)[:FORMAT_LENGTH[fmt]]
    key = partition_key
    return {
        "projection.enabled": "true",
        f"projection.{key}.type": "date",
        f"projection.{key}.format": fmt,
        f"projection.{key}.range": f"{start},NOW",
        f"projection.{key}.interval": "1",
        f"projection.{key}.interval.unit": unit,
        "storage.location.template": f"{glue_location(location)}/{key}=${{{key}}}",
    }


def _owned(key: str) -> bool:
    return key in OWNED_KEYS or key.startswith(OWNED_PREFIXES)


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "Unknown")


def _columns(cols: list[dict] | None) -> list[dict]:
    """Columns reduced to what this module writes, for comparing an entry with the one it would write."""
    return [{k: c[k] for k in ("Name", "Type", "Comment") if c.get(k)} for c in cols or []]


class GlueCatalog:
    """The lakehouse's entries in the AWS Glue Data Catalog (or a moto server standing in for it)."""

    def __init__(self, settings: Settings, client: Any = None):
        if settings.glue_prefix is None:
            raise LakehouseError("the Glue catalog is off: set LAKEHOUSE_GLUE_PREFIX to register tables")
        self.settings = settings
        if client is None:  # boto3 costs ~0.5 s of import in every run process: only when a catalog is on
            import boto3
            from botocore.config import Config
        self.client = client or boto3.client(
            "glue", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )

    # -- names -------------------------------------------------------------------------------------------

    def database(self, layer: str) -> str:
        # Glue folds database and table names to lower case when it stores them (Hive compatibility).
        return self.settings.glue_database(layer).lower()

    def _fail(self, action: str, target: str, exc: ClientError) -> LakehouseError:
        message = exc.response.get("Error", {}).get("Message") or str(exc)
        return LakehouseError(f"Glue {action} {target} failed with {_error_code(exc)}: {message}")

    # -- databases ---------------------------------------------------------------------------------------

    def ensure_database(self, layer: str) -> str:
        """Create the layer's database when missing; return its name."""
        name = self.database(layer)
        try:
            self.client.get_database(Name=name)
            return name
        except ClientError as exc:
            if _error_code(exc) != "EntityNotFoundException":
                raise self._fail("get database", name, exc) from exc
        try:
            self.client.create_database(DatabaseInput={
                "Name": name,
                "Description": f"Lakehouse {layer} layer (prefix {self.settings.glue_prefix}); "
                               "tables are registered by the lakehouse platform.",
                "Parameters": {"lakehouse.layer": layer, "lakehouse.prefix": str(self.settings.glue_prefix)},
            })
        except ClientError as exc:
            if _error_code(exc) != "AlreadyExistsException":  # another run created it meanwhile
                raise self._fail("create database", name, exc) from exc
        return name

    # -- tables ------------------------------------------------------------------------------------------

    def get_table(self, layer: str, name: str) -> dict | None:
        """The Glue `Table` as Glue returns it, or None when there is no such table (or database)."""
        database, table = self.database(layer), name.lower()
        try:
            return self.client.get_table(DatabaseName=database, Name=table)["Table"]
        except ClientError as exc:
            if _error_code(exc) == "EntityNotFoundException":
                return None
            raise self._fail("get table", f"{database}.{table}", exc) from exc

    def register(self, *, layer: str, name: str, description: str, schema: pa.Schema, location: str,
                 fmt: str, partition_key: str = "dt", partitioning: str = "daily",
                 column_comments: Mapping[str, str] | None = None, parameters: Mapping[str, Any] | None = None,
                 tags: Mapping[str, Any] | None = None, partition_format: str | None = None) -> str:
        """Create or update the table's Glue entry; return "database.table".

        `tags` are stored as `lakehouse.tag.<key>` table parameters: Glue cannot tag tables (only
        databases, connections, jobs and the like). `parameters` are extra table parameters and win over
        the computed ones. `partition_format` overrides the projection's date format (yyyy-MM-dd or yyyy-MM).
        """
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, not {fmt!r}")
        if partitioning not in PROJECTION:
            raise ValueError(f"partitioning must be one of {sorted(PROJECTION)}, not {partitioning!r}")
        table = name.lower()
        target = f"{self.database(layer)}.{table}"
        location = glue_location(location)
        try:
            columns = glue_columns(schema, exclude=(partition_key,) if fmt == "parquet" else (),
                                   comments=column_comments)
        except ValueError as exc:
            raise LakehouseError(f"Glue table {target}: {exc}") from exc
        partition_keys = [{"Name": partition_key, "Type": "string"}] if fmt == "parquet" else []
        if partition_keys and (column_comments or {}).get(partition_key):  # Parquet readers see dt's comment here
            partition_keys[0]["Comment"] = str(column_comments[partition_key])[:MAX_COMMENT]

        database = self.ensure_database(layer)
        current = self.get_table(layer, table)
        if current is not None:
            columns = self._merge_columns(columns, current, {p["Name"].lower() for p in partition_keys})

        params: dict[str, str] = {}
        if current is not None:  # keep parameters someone else put on the table
            params.update({k: v for k, v in (current.get("Parameters") or {}).items() if not _owned(k)})
        params.update({"EXTERNAL": "TRUE", "lakehouse.layer": layer, "lakehouse.format": fmt,
                       "lakehouse.partitioning": partitioning})
        params.update({f"lakehouse.tag.{k}": str(v) for k, v in (tags or {}).items()})
        storage: dict[str, Any] = {"Columns": columns, "Location": location}
        if fmt == "delta":
            params.update({"table_type": "DELTA", "classification": "delta", "spark.sql.sources.provider": "delta"})
            storage.update(InputFormat=DELTA_INPUT, OutputFormat=DELTA_OUTPUT,
                           SerdeInfo={"SerializationLibrary": DELTA_SERDE,
                                      "Parameters": {"serialization.format": "1", "path": location}})
        else:
            params["classification"] = "parquet"
            params.update(projection_parameters(location, partition_key, partitioning, partition_format,
                                                self.settings.start_date))
            storage.update(InputFormat=PARQUET_INPUT, OutputFormat=PARQUET_OUTPUT,
                           SerdeInfo={"SerializationLibrary": PARQUET_SERDE,
                                      "Parameters": {"serialization.format": "1"}})
        params.update({str(k): str(v) for k, v in (parameters or {}).items()})

        table_input: dict[str, Any] = {
            "Name": table, "Description": (description or "")[:MAX_DESCRIPTION], "TableType": "EXTERNAL_TABLE",
            "Parameters": params, "StorageDescriptor": storage, "PartitionKeys": partition_keys,
        }
        if current is None:
            try:
                self.client.create_table(DatabaseName=database, TableInput=table_input)
                return f"{database}.{table}"
            except ClientError as exc:
                if _error_code(exc) != "AlreadyExistsException":
                    raise self._fail("create table", target, exc) from exc
                # created by a concurrent run: fall through and update it
        elif self._same(current, table_input):
            return f"{database}.{table}"
        self._update(database, table_input, target)
        return f"{database}.{table}"

    def _update(self, database: str, table_input: dict, target: str) -> None:
        for attempt in range(3):
            try:
                self.client.update_table(DatabaseName=database, TableInput=table_input)
                return
            except ClientError as exc:
                # two runs updating one table at once: the loser retries with the same (full) definition
                if _error_code(exc) != "ConcurrentModificationException" or attempt == 2:
                    raise self._fail("update table", target, exc) from exc

    @staticmethod
    def _merge_columns(columns: list[dict], current: dict, partition_names: set[str]) -> list[dict]:
        """New columns first (in schema order), then every column Glue had that the schema lacks, with its
        old type. A comment Glue had survives when the new registration gives none."""
        old = {c["Name"].lower(): c for c in (current.get("StorageDescriptor") or {}).get("Columns", [])}
        merged = []
        for column in columns:
            previous = old.get(column["Name"].lower())
            if previous and previous.get("Comment") and not column.get("Comment"):
                column = {**column, "Comment": previous["Comment"]}
            merged.append(column)
        known = {c["Name"].lower() for c in columns} | partition_names
        merged += [{k: c[k] for k in ("Name", "Type", "Comment") if c.get(k)}
                   for key, c in old.items() if key not in known]
        return merged

    @staticmethod
    def _same(current: dict, table_input: dict) -> bool:
        """Whether Glue already holds exactly what `table_input` would write."""
        sd_now, sd_new = current.get("StorageDescriptor") or {}, table_input["StorageDescriptor"]
        serde_now, serde_new = sd_now.get("SerdeInfo") or {}, sd_new.get("SerdeInfo") or {}
        return (
            (current.get("Description") or "") == table_input["Description"]
            and current.get("TableType") == table_input["TableType"]
            and (current.get("Parameters") or {}) == table_input["Parameters"]
            and _columns(current.get("PartitionKeys")) == _columns(table_input["PartitionKeys"])
            and _columns(sd_now.get("Columns")) == _columns(sd_new["Columns"])
            and sd_now.get("Location") == sd_new["Location"]
            and sd_now.get("InputFormat") == sd_new.get("InputFormat")
            and sd_now.get("OutputFormat") == sd_new.get("OutputFormat")
            and serde_now.get("SerializationLibrary") == serde_new.get("SerializationLibrary")
            and (serde_now.get("Parameters") or {}) == (serde_new.get("Parameters") or {})
        )

    def list_tables(self, layer: str | None = None) -> list[dict]:
        """The tables of one layer's database, or of every layer's (bronze, silver, gold, quarantine, ops).

        Each: name, database, layer, location, format, columns (Glue columns, partition keys last).
        A database that does not exist yet lists no tables.
        """
        out = []
        for lay in [layer] if layer else [*LAYERS, *EXTRA_LAYERS]:
            database = self.database(lay)
            try:
                for page in self.client.get_paginator("get_tables").paginate(DatabaseName=database):
                    for t in page["TableList"]:
                        params = t.get("Parameters") or {}
                        sd = t.get("StorageDescriptor") or {}
                        fmt = params.get("lakehouse.format") or (
                            "delta" if params.get("table_type", "").upper() == "DELTA" else params.get("classification"))
                        out.append({
                            "name": t["Name"], "database": database, "layer": lay, "location": sd.get("Location"),
                            "format": fmt,
                            "columns": _columns(sd.get("Columns")) + _columns(t.get("PartitionKeys")),
                        })
            except ClientError as exc:
                if _error_code(exc) != "EntityNotFoundException":
                    raise self._fail("list tables of", database, exc) from exc
        return sorted(out, key=lambda t: (t["database"], t["name"]))


def catalog_for(settings: Settings) -> GlueCatalog | None:
    """The Glue catalog when LAKEHOUSE_GLUE_PREFIX is set, else None (the catalog is off)."""
    return GlueCatalog(settings) if settings.glue_prefix is not None else None
