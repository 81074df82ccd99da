"""Query results for people and for pipes: a rich table, CSV, a JSON array or JSON lines.

Data is data: a value holding `[bold]`, `[link=...]` or terminal control sequences (ESC, OSC 8 links, a
carriage return that rewrites the line) is shown as its characters, never interpreted. The table takes values
as plain rich Text (no markup, no :emoji:) with control characters written as visible escapes (\x1b); JSON
escapes them itself; CSV keeps the bytes as stored, for programs (view it in a terminal with --format table).
"""
from __future__ import annotations

import datetime as dt
import decimal
import io
import json
from typing import TextIO

import pyarrow as pa
import pyarrow.csv as pacsv

from lakehouse.console import cell

FORMATS = ("table", "csv", "json", "jsonl")

def _json_value(value):
    if isinstance(value, decimal.Decimal):
        return str(value)  # keeps every digit; a float would not
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _plain_for_csv(table: pa.Table) -> pa.Table:
    """CSV cannot hold lists, structs or maps: write those as JSON text."""
    columns = []
    for col in table.columns:
        if pa.types.is_nested(col.type):
            col = pa.array([None if v is None else json.dumps(v, default=_json_value) for v in col.to_pylist()],
                           pa.string())
        columns.append(col)
    return pa.Table.from_arrays(columns, names=table.column_names)


def write(table: pa.Table, fmt: str, out: TextIO, console=None, title: str | None = None) -> None:
    if fmt == "csv":
        buffer = io.BytesIO()
        pacsv.write_csv(_plain_for_csv(table), buffer)
        out.write(buffer.getvalue().decode("utf-8"))
    elif fmt == "json":
        out.write(json.dumps(table.to_pylist(), default=_json_value, ensure_ascii=False) + "\n")
    elif fmt == "jsonl":
        for row in table.to_pylist():
            out.write(json.dumps(row, default=_json_value, ensure_ascii=False) + "\n")
    elif fmt == "table":
        from rich.table import Table

        view = Table(title=cell(title) if title else None)
        for field in table.schema:  # column names are data too: SELECT 1 AS "[link=...]"
            numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(
                field.type)
            view.add_column(cell(field.name), justify="right" if numeric else "left")
        for row in table.to_pylist():
            view.add_row(*(cell(v) for v in row.values()))
        if console is None:
            from rich.console import Console

            console = Console(file=out)
        console.print(view)
    else:
        raise ValueError(f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}")
