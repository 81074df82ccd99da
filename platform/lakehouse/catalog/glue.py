"""Glue entries so Athena can query every table: a database per layer, one table per spec.

Delta tables: `table_type=DELTA` at the table root (Athena reads the schema and files from the Delta
log; the columns are also stored so the Glue console and other engines see them). Parquet tables: Hive
layout with `dt` as partition key and partition projection, so a new day is queryable without
`MSCK REPAIR TABLE` or crawler runs.
"""
from __future__ import annotations

import boto3
import pyarrow as pa
from botocore.exceptions import ClientError

from lakehouse.catalog.types import glue_columns
from lakehouse.config import Settings
from lakehouse.errors import LakehouseError

PARQUET_SERDE = {
    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    "Parameters": {"serialization.format": "1"},
}
PARQUET_IN = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def _projection(location: str, partitioning: str) -> dict[str, str]:
    monthly = partitioning == "monthly"
    return {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        # monthly tables keep dt as the month's first day, so both use the same date format
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": "2020-01-01,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "MONTHS" if monthly else "DAYS",
        "storage.location.template": f"{location.rstrip('/')}/dt=${{dt}}",
    }


class GlueCatalog:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = boto3.client("glue", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region)

    def database(self, layer: str) -> str:
        return self.settings.glue_database(layer)

    def _call(self, what: str, fn, **kwargs):
        try:
            return fn(**kwargs)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise LakehouseError(f"Glue {what}: {err.get('Code')}: {err.get('Message')}") from exc

    def ensure_database(self, layer: str) -> str:
        name = self.database(layer)
        try:
            self.client.get_database(Name=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityNotFoundException":
                raise LakehouseError(f"Glue database {name}: {exc}") from exc
            self._call(f"create database {name}", self.client.create_database,
                       DatabaseInput={"Name": name, "Description": f"lakehouse {layer} layer"})
        return name

    def get_table(self, layer: str, name: str) -> dict | None:
        try:
            return self.client.get_table(DatabaseName=self.database(layer), Name=name)["Table"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "EntityNotFoundException":
                return None
            raise LakehouseError(f"Glue table {self.database(layer)}.{name}: {exc}") from exc

    def register(self, *, layer: str, name: str, description: str, schema: pa.Schema, location: str,
                 fmt: str, partitioning: str = "daily", column_comments: dict | None = None,
                 parameters: dict | None = None, tags: dict | None = None) -> str:
        database = self.ensure_database(layer)
        columns = glue_columns(schema, exclude=("dt",) if fmt == "parquet" else (), comments=column_comments)
        current = self.get_table(layer, name)
        if current:  # never drop a column Glue knows: older partitions may still hold it
            known = {c["Name"] for c in columns}
            partition_keys = {p["Name"] for p in current.get("PartitionKeys", [])}
            columns += [c for c in current["StorageDescriptor"].get("Columns", [])
                        if c["Name"] not in known and c["Name"] not in partition_keys]
        params = {"EXTERNAL": "TRUE", "lakehouse.layer": layer, "lakehouse.format": fmt, **(parameters or {})}
        params.update({f"lakehouse.tag.{k}": str(v) for k, v in (tags or {}).items()})
        storage = {"Columns": columns, "Location": location}
        table_input = {"Name": name, "Description": description[:2048], "TableType": "EXTERNAL_TABLE",
                       "Parameters": params, "StorageDescriptor": storage}
        if fmt == "delta":
            params.update({"table_type": "DELTA", "classification": "delta", "spark.sql.sources.provider": "delta"})
            storage["SerdeInfo"] = {"SerializationLibrary": PARQUET_SERDE["SerializationLibrary"]}
        else:
            params.update({"classification": "parquet", **_projection(location, partitioning)})
            storage.update(InputFormat=PARQUET_IN, OutputFormat=PARQUET_OUT, SerdeInfo=PARQUET_SERDE)
            table_input["PartitionKeys"] = [{"Name": "dt", "Type": "string"}]
        if current is None:
            self._call(f"create table {database}.{name}", self.client.create_table,
                       DatabaseName=database, TableInput=table_input)
        else:
            self._call(f"update table {database}.{name}", self.client.update_table,
                       DatabaseName=database, TableInput=table_input)
        return f"{database}.{name}"

    def list_tables(self, layer: str | None = None) -> list[dict]:
        from lakehouse.config import LAYERS

        out = []
        for lay in ([layer] if layer else [*LAYERS, "quarantine"]):
            try:
                pages = self.client.get_paginator("get_tables").paginate(DatabaseName=self.database(lay))
                for page in pages:
                    for t in page["TableList"]:
                        out.append({"database": t["DatabaseName"], "name": t["Name"],
                                    "location": t["StorageDescriptor"].get("Location"),
                                    "format": t.get("Parameters", {}).get("lakehouse.format"),
                                    "columns": t["StorageDescriptor"].get("Columns", [])})
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "EntityNotFoundException":
                    raise LakehouseError(f"Glue list tables: {exc}") from exc
        return out

    def drop_table(self, layer: str, name: str) -> None:
        self._call(f"delete table {name}", self.client.delete_table, DatabaseName=self.database(layer), Name=name)


def catalog_for(settings: Settings) -> GlueCatalog | None:
    return GlueCatalog(settings) if settings.catalog_enabled else None
