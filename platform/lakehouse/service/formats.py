"""A page of a result as JSON, CSV or an Arrow IPC stream, chosen by the request's Accept header.

JSON keeps every value exact and valid: decimals as strings (a float would lose digits), dates and times as
ISO 8601, bytes as hex, NaN and infinities as strings (JSON has no such numbers). CSV is the query layer's
own (nested values as JSON text). Arrow keeps the types as they are.
"""
from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import math

import pyarrow as pa

from lakehouse.query.output import write

JSON, CSV, ARROW = "application/json", "text/csv", "application/vnd.apache.arrow.stream"
MEDIA_TYPES = {JSON: "json", CSV: "csv", ARROW: "arrow"}


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, by the Accept header's preference; None when none of ours is acceptable."""
    if not accept or not accept.strip():
        return JSON
    ranges = []
    for position, part in enumerate(accept.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((-quality, position, media.lower()))
    for negative_quality, _, media in sorted(ranges):
        if negative_quality >= 0:
            break
        if media in MEDIA_TYPES:
            return media
        if media in ("*/*", "application/*"):
            return JSON
        if media == "text/*":
            return CSV
    return None


def jsonable(value):
    """A value as JSON can hold it exactly."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):  # lists; maps come as lists of (key, value) pairs
        return [jsonable(v) for v in value]
    return str(value)  # durations, intervals


def rows(table: pa.Table) -> list[list]:
    """Rows as lists, in column order (two columns may share a name: SELECT 1 AS a, 2 AS a)."""
    columns = [[jsonable(v) for v in column.to_pylist()] for column in table.columns]
    return [list(row) for row in zip(*columns)] if columns else []


def columns(schema: pa.Schema) -> list[dict]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def dump_json(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def csv_bytes(table: pa.Table) -> bytes:
    out = io.StringIO()
    write(table, "csv", out)
    return out.getvalue().encode("utf-8")


def arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return sink.getvalue().to_pybytes()
