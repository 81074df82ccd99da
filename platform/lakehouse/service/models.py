"""The shapes of requests and answers, as the OpenAPI document at /openapi.json publishes them."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_SQL = 100_000  # characters; a reporting query is a few hundred
MAX_PAGE = 10_000
DEFAULT_PAGE = 1000


class ErrorBody(BaseModel):
    error: str = Field(description="a stable code: unauthorized, forbidden, refused, unknown_table, timeout, ...")
    message: str = Field(description="one line saying what went wrong and what to do")
    missing_scope: str | None = Field(None, description="with 403: the scope the key lacks")


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(max_length=MAX_SQL, description="one read-only query in DuckDB's SQL, tables as layer.table",
                     examples=["SELECT region, sum(revenue_usd) FROM gold.daily_sales_summary "
                               "WHERE dt = '2024-06-03' GROUP BY region"])
    engine: Literal["local", "athena", "trino"] | None = Field(
        None, description="DuckDB on the service, Athena, or the Trino server of LAKEHOUSE_TRINO_URL; "
                          "default: the service's LAKEHOUSE_QUERY_ENGINE (local unless set)")
    page_size: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="rows in each page")
    max_rows: int | None = Field(None, description="most rows the result keeps (default and ceiling: "
                                 "LAKEHOUSE_SERVE_MAX_ROWS); `truncated` says when more existed")


class Column(BaseModel):
    name: str
    type: str = Field(description="the Arrow type")


class QueryPage(BaseModel):
    query_id: str = Field(description="this result, also in the audit log")
    engine: str
    columns: list[Column]
    rows: list[list[Any]] = Field(description="this page's rows, values in column order; decimals as strings, "
                                  "dates and times ISO 8601, bytes hex, NaN/Infinity as strings")
    offset: int = Field(description="the first row's position in the result")
    total_rows: int = Field(description="rows in the whole result")
    truncated: bool = Field(description="the query had more rows than max_rows; they are not in the result")
    next_cursor: str | None = Field(description="GET /v1/results/{next_cursor} for the next page; null at the end")
    elapsed_ms: float | None = Field(None, description="time the query took (first page only)")
    engine_query_id: str | None = Field(None, description="Athena's query execution id, or Trino's query id")


class Database(BaseModel):
    database: str
    tables: int
    glue_database: str | None = None
    registered: int | None = None


class DatabaseList(BaseModel):
    databases: list[Database]


class TableInfo(BaseModel):
    table: str = Field(description="layer.table, as queries name it")
    database: str
    format: str
    partitions: int
    last_partition: str | None
    glue_table: str | None = None
    readable: bool = Field(description="whether this key's scopes let it query the table")


class TableList(BaseModel):
    tables: list[TableInfo]


class SchemaColumn(BaseModel):
    name: str
    type: str
    pii: bool = Field(description="flagged as personal data in the table registry")
    masked: bool = Field(description="shown as *** to this key (a PII column without the pii scope)")
    description: str | None = None


class TableSchema(BaseModel):
    table: str
    database: str
    description: str
    format: str
    readable: bool
    has_data: bool = Field(description="false: no data yet, the columns are the declared ones")
    columns: list[SchemaColumn]
    partition_column: str = "dt"
    partitions: list[str]
    delta_version: int | None = None
    glue_table: str | None = None


class QualityPoint(BaseModel):
    dt: str
    value: float | None = Field(description="null: not recorded for this partition")
    low: float | None = Field(None, description="the band the partition was judged by (null: history too short)")
    high: float | None = None
    outlier: bool = False


class QualityMetric(BaseModel):
    metric: str = Field(description="e.g. rows, null_fraction.region, sum.revenue_usd")
    level: Literal["off", "warn", "block"] = Field(description="what the table's anomaly check does with it")
    points: list[QualityPoint] = Field(description="oldest first, one per partition shown")


class QualityHistory(BaseModel):
    table: str
    baseline: str = Field(description="how each band is drawn")
    metrics: list[QualityMetric]


class Health(BaseModel):
    status: Literal["ok", "ready"]
    checks: dict[str, str] | None = None
