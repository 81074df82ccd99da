"""The Athena engine: the query transpiled to Athena's SQL over the Glue tables, run and paged back as Arrow.

Athena hands every value back as a string; the column types in the result metadata turn them back into
typed Arrow columns. The first row of the first page is the header (Athena does that for SELECT).
"""
from __future__ import annotations

import time
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sqlglot.errors import ErrorLevel, UnsupportedError

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError
from lakehouse.query.guard import CheckedQuery
from lakehouse.query.result import QueryResult
from lakehouse.query.rewrite import rewrite_tables, with_limit
from lakehouse.query.tables import QueryTable
from lakehouse.storage.table_metadata import TableMetadata

DIALECT = "athena"
DEFAULT_TIMEOUT = 300.0
PAGE_ROWS = 1000  # Athena's maximum for get_query_results

_SIMPLE_TYPES = {
    "boolean": pa.bool_(), "tinyint": pa.int8(), "smallint": pa.int16(), "integer": pa.int32(),
    "int": pa.int32(), "bigint": pa.int64(), "double": pa.float64(), "float": pa.float32(),
    "real": pa.float32(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
}


class AthenaQueryError(LakehouseError):
    """Athena refused, failed, cancelled or did not finish the query."""


def stored_columns(table: QueryTable, settings: Settings) -> list[str]:
    """The columns the table has in storage (as Glue has them), for the subquery that masks its PII."""
    schema = TableMetadata(settings).schema(table.uri(settings), table.format)
    if schema is None:
        raise AthenaQueryError(f"table {table.id} has no data yet")
    return schema.names


def glue_sql(checked: CheckedQuery, settings: Settings, limit: int, dialect: str, engine: str,
             error: type[LakehouseError]) -> str:
    """The checked query over the Glue catalog's databases in `dialect` (Athena, Trino: both read our Glue
    entries), one row past `limit` so a cut result is known; SQL the engine lacks is `error`, named."""
    if settings.glue_prefix is None:
        raise error(f"the {engine} engine {'needs' if engine == 'Athena' else 'reads'} the Glue catalog: "
                    "set LAKEHOUSE_GLUE_PREFIX")
    tree = rewrite_tables(checked, lambda t: (settings.glue_database(t.layer).lower(), t.name.lower()),
                          columns_of=lambda t: stored_columns(t, settings))
    try:
        return with_limit(tree, limit + 1).sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise error(f"the query uses SQL {engine} does not have: {exc}") from None


def athena_sql(checked: CheckedQuery, settings: Settings, limit: int) -> str:
    return glue_sql(checked, settings, limit, DIALECT, "Athena", AthenaQueryError)


def arrow_type(column: dict[str, Any]) -> pa.DataType:
    """The Arrow type for one ResultSetMetadata.ColumnInfo; types without a plain mapping stay strings."""
    name = column.get("Type", "varchar").lower()
    if name == "decimal":
        precision = int(column.get("Precision") or 38)
        return pa.decimal128(precision, int(column.get("Scale") or 0))
    return _SIMPLE_TYPES.get(name, pa.string())


def to_arrow(column_info: list[dict], rows: list[list[str | None]]) -> pa.Table:
    arrays, fields = [], []
    for i, column in enumerate(column_info):
        raw = pa.array([row[i] if i < len(row) else None for row in rows], pa.string())
        target = arrow_type(column)
        try:
            arrays.append(pc.cast(raw, target) if target != pa.string() else raw)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            target = pa.string()  # a value Arrow cannot parse as the type: show it as Athena sent it
            arrays.append(raw)
        fields.append(pa.field(column.get("Label") or column["Name"], target))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


class AthenaEngine:
    def __init__(self, settings: Settings, client: Any = None, workgroup: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, poll: float = 0.2):
        self.settings = settings
        self.client = client or boto3.client(
            "athena", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )
        self.workgroup = workgroup or settings.athena_workgroup
        self.timeout, self.poll = timeout, poll

    def _call(self, action: str, **kwargs):
        try:
            return getattr(self.client, action)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise AthenaQueryError(f"Athena {action} failed with {error.get('Code', 'Unknown')}: "
                                   f"{error.get('Message') or exc}") from None
        except BotoCoreError as exc:
            raise AthenaQueryError(f"Athena {action} failed: {exc}") from None

    def start(self, sql: str) -> str:
        if not self.settings.athena_output:
            raise AthenaQueryError("no Athena result location: set LAKEHOUSE_ATHENA_OUTPUT (e.g. s3://bucket/athena/)")
        kwargs: dict[str, Any] = {"QueryString": sql,
                                  "ResultConfiguration": {"OutputLocation": self.settings.athena_output}}
        if self.workgroup:
            kwargs["WorkGroup"] = self.workgroup
        return self._call("start_query_execution", **kwargs)["QueryExecutionId"]

    def wait(self, query_id: str) -> dict:
        """Poll until the query ends; a failed or cancelled one raises with Athena's reason, a slow one is stopped."""
        deadline, delay = time.monotonic() + self.timeout, self.poll
        while True:
            execution = self._call("get_query_execution", QueryExecutionId=query_id)["QueryExecution"]
            status = execution.get("Status", {})
            state = status.get("State")
            if state == "SUCCEEDED":
                return execution
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage")
                raise AthenaQueryError(f"Athena query {query_id} {state}: {reason or 'no reason given'}")
            if time.monotonic() >= deadline:
                self._call("stop_query_execution", QueryExecutionId=query_id)
                raise AthenaQueryError(f"Athena query {query_id} did not finish within {self.timeout:g}s "
                                       f"(still {state}); it was stopped")
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    def results(self, query_id: str, limit: int) -> tuple[pa.Table, bool]:
        """Page through the results until `limit` + 1 rows (to know whether the limit cut them) or the end."""
        column_info: list[dict] | None = None
        rows: list[list[str | None]] = []
        token, first = None, True
        while True:
            kwargs: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": PAGE_ROWS}
            if token:
                kwargs["NextToken"] = token
            page = self._call("get_query_results", **kwargs)
            result_set = page.get("ResultSet", {})
            if column_info is None:
                column_info = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            page_rows = [[d.get("VarCharValue") for d in r.get("Data", [])] for r in result_set.get("Rows", [])]
            if first and page_rows and page_rows[0] == [c.get("Label") or c["Name"] for c in column_info]:
                page_rows = page_rows[1:]  # the header row
            first = False
            rows.extend(page_rows)
            token = page.get("NextToken")
            if not token or len(rows) > limit:
                break
        table = to_arrow(column_info or [], rows[:limit])
        return table, len(rows) > limit

    def run(self, checked: CheckedQuery, limit: int) -> QueryResult:
        sql = athena_sql(checked, self.settings, limit)
        query_id = self.start(sql)
        self.wait(query_id)
        table, truncated = self.results(query_id, limit)
        return QueryResult(table, truncated, limit, "athena", sql, query_id)
