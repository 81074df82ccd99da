"""Arrow types -> the Hive/Athena DDL type names Glue stores."""
from __future__ import annotations

import pyarrow as pa


def hive_type(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return hive_type(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t) or pa.types.is_null(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        width = t.bit_width * (2 if pa.types.is_unsigned_integer(t) else 1)  # unsigned: the next size up
        return {8: "tinyint", 16: "smallint", 32: "int"}.get(width, "bigint")
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_fixed_size_list(t):
        return f"array<{hive_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{hive_type(t.key_type)},{hive_type(t.item_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.type)}" for f in t) + ">"
    raise ValueError(f"no Athena type for Arrow type {t}")


def glue_columns(schema: pa.Schema, exclude=("dt",), comments: dict | None = None) -> list[dict]:
    comments = comments or {}
    out = []
    for f in schema:
        if f.name in exclude:
            continue
        column = {"Name": f.name, "Type": hive_type(f.type)}
        if comments.get(f.name):
            column["Comment"] = comments[f.name][:255]
        out.append(column)
    return out
