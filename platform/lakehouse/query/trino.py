"""The Trino engine: the query transpiled to Trino's SQL over the Glue tables, run on a Trino server
(LAKEHOUSE_TRINO_URL) and read back as Arrow in batches.

Tables are named as Athena names them, `<glue database>.<table>`, in the `hive` catalog: like Athena's one
AwsDataCatalog, it reads the Parquet tables itself and hands the Delta tables (table_type=DELTA) to the
`delta_lake` catalog (`hive.delta-lake-catalog-name`; lakehouse.dev.trino_server.glue_catalogs sets both up).
PII columns a reader may not see are masked in a subquery, as for Athena. The statement timeout and the memory
limit are Trino session properties, so the server itself stops a query that runs past them.
"""
from __future__ import annotations

import re
from typing import Any, Iterator
from urllib.parse import urlsplit

import pyarrow as pa

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError
from lakehouse.query.athena import glue_sql
from lakehouse.query.guard import CheckedQuery
from lakehouse.query.limits import QueryLimits, QueryMemoryError, QueryTimeoutError
from lakehouse.query.result import QueryResult, take

DIALECT = "trino"
CATALOG = "hive"  # the Delta tables in it are redirected to the delta_lake catalog
USER = "lakehouse"
BATCH_ROWS = 10_000

_SIMPLE = {
    "boolean": pa.bool_(), "tinyint": pa.int8(), "smallint": pa.int16(), "integer": pa.int32(),
    "bigint": pa.int64(), "real": pa.float32(), "double": pa.float64(), "date": pa.date32(),
    "varchar": pa.string(), "char": pa.string(), "varbinary": pa.binary(), "uuid": pa.string(),
}


class TrinoQueryError(LakehouseError):
    """Trino refused or failed the query, or could not be reached."""


def trino_sql(checked: CheckedQuery, settings: Settings, limit: int) -> str:
    return glue_sql(checked, settings, limit, DIALECT, "Trino", TrinoQueryError)


# --- Trino's type names -> Arrow ----------------------------------------------------------------------------

def _split_top(text: str) -> list[str]:
    """`a bigint, b row(c varchar, d int)` -> the parts at the outer level."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type of a Trino type name (as in a result's column description); others become strings."""
    name = name.strip()
    base, _, rest = name.partition("(")
    base, inner = base.strip().lower(), rest[:rest.rfind(")")] if rest else ""
    if base in _SIMPLE:
        return _SIMPLE[base]
    if base == "decimal":
        precision, scale = (int(x) for x in _split_top(inner))
        return pa.decimal128(precision, scale)
    if base == "timestamp":
        digits = int(inner) if inner.isdigit() else 3
        unit = "ms" if digits <= 3 else "us" if digits <= 6 else "ns"
        return pa.timestamp(unit, tz="UTC" if name.lower().endswith("with time zone") else None)
    if base == "array":
        return pa.list_(arrow_type(inner))
    if base == "map":
        key, value = _split_top(inner)
        return pa.map_(arrow_type(key), arrow_type(value))
    if base == "row":
        fields = []
        for part in _split_top(inner):
            field, _, kind = part.partition(" ")
            fields.append(pa.field(field.strip('"'), arrow_type(kind)))
        return pa.struct(fields)
    return pa.string()  # time, json, interval, ipaddress, ...: shown as Trino writes them


def _value(value: Any, kind: pa.DataType) -> Any:
    """A value from the Trino client in the shape pyarrow builds `kind` from."""
    if value is None:
        return None
    if pa.types.is_struct(kind):
        return {f.name: _value(v, f.type) for f, v in zip(kind, value)}  # a row arrives as a tuple
    if pa.types.is_map(kind):
        return [(_value(k, kind.key_type), _value(v, kind.item_type)) for k, v in value.items()]
    if pa.types.is_list(kind):
        return [_value(v, kind.value_type) for v in value]
    if pa.types.is_string(kind) and not isinstance(value, str):
        return str(value)
    return value


def to_batch(rows: list[list[Any]], schema: pa.Schema) -> pa.RecordBatch:
    columns = [pa.array([_value(row[i], f.type) for row in rows], f.type) for i, f in enumerate(schema)]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


# --- running ------------------------------------------------------------------------------------------------

def _connection(settings: Settings, limits: QueryLimits):
    import trino

    if not settings.trino_url:
        raise TrinoQueryError("no Trino server: set LAKEHOUSE_TRINO_URL (e.g. http://127.0.0.1:8080)")
    url = urlsplit(settings.trino_url)
    return trino.dbapi.connect(
        host=url.hostname, port=url.port or (443 if url.scheme == "https" else 80), http_scheme=url.scheme,
        user=url.username or USER, catalog=CATALOG, source="lakehouse-query",
        session_properties={"query_max_run_time": f"{limits.timeout:g}s",
                            "query_max_memory": f"{int(limits.memory_mb)}MB"},
        request_timeout=limits.timeout + 30,
    )


def _error(exc: Exception, limits: QueryLimits, url: str) -> LakehouseError:
    from requests.exceptions import RequestException
    from trino.exceptions import HttpError

    if isinstance(exc, (RequestException, HttpError)):
        return TrinoQueryError(f"the Trino server at {url} (LAKEHOUSE_TRINO_URL) did not answer: {type(exc).__name__}")
    name = getattr(exc, "error_name", "") or ""
    if name == "EXCEEDED_TIME_LIMIT":
        return QueryTimeoutError(f"the query was stopped after {limits.timeout:g} s, the statement timeout "
                                 "(LAKEHOUSE_QUERY_TIMEOUT); filter on dt or aggregate before joining")
    if name.startswith("EXCEEDED_") and "MEMORY" in name:
        return QueryMemoryError(f"the query needs more than {limits.memory_mb} MB of memory, the limit "
                                "(LAKEHOUSE_QUERY_MEMORY_MB); filter on dt or aggregate before joining")
    message = getattr(exc, "message", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return TrinoQueryError("query failed in Trino: " + re.sub(r"\s+", " ", message))


def run_trino(checked: CheckedQuery, settings: Settings, limit: int, limits: QueryLimits | None = None,
              max_bytes: int | None = None) -> QueryResult:
    from requests.exceptions import RequestException
    from trino.exceptions import Error, HttpError

    limits = limits or QueryLimits.of(settings)
    sql = trino_sql(checked, settings, limit)
    connection = _connection(settings, limits)
    cursor = connection.cursor()
    try:
        cursor.execute(sql)
        first = cursor.fetchmany(BATCH_ROWS)  # the description is known once the first rows are in
        schema = pa.schema([pa.field(c[0], arrow_type(c[1])) for c in cursor.description or []])

        def batches(rows: list) -> Iterator[pa.RecordBatch]:
            while rows:
                yield to_batch(rows, schema)
                rows = cursor.fetchmany(BATCH_ROWS)

        table, truncated = take(batches(first), schema, limit, max_bytes)
        query_id = cursor.query_id
        if truncated:
            cursor.cancel()  # the rows past the limit are not wanted: free the server's slot
    except (Error, HttpError, RequestException) as exc:
        raise _error(exc, limits, settings.trino_url) from None
    finally:
        connection.close()
    return QueryResult(table, truncated, limit, "trino", sql, query_id)
