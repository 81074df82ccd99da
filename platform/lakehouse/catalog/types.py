"""Arrow types -> the Hive/Athena DDL type names Glue stores in a table's column list."""
from __future__ import annotations

from typing import Iterable, Mapping

import pyarrow as pa

# Athena's DECIMAL holds at most 38 digits.
MAX_DECIMAL_PRECISION = 38
# Glue limits a column comment to 255 characters.
MAX_COMMENT = 255

# Unsigned integers go one size up, so every value still fits; uint64 has no wider integer in Athena and
# becomes a 20-digit decimal.
_UNSIGNED = {8: "smallint", 16: "int", 32: "bigint", 64: "decimal(20,0)"}
_SIGNED = {8: "tinyint", 16: "smallint", 32: "int", 64: "bigint"}


def _is(name: str, t: pa.DataType) -> bool:
    """pa.types.is_<name>, False when this pyarrow predates the type (string_view, list_view ...)."""
    check = getattr(pa.types, f"is_{name}", None)
    return bool(check and check(t))


def hive_type(arrow_type: pa.DataType) -> str:
    """The Athena/Hive DDL type for an Arrow type; ValueError naming the type when Athena has none."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return hive_type(t.value_type)
    if pa.types.is_null(t) or any(_is(n, t) for n in ("string", "large_string", "string_view")):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return (_UNSIGNED if pa.types.is_unsigned_integer(t) else _SIGNED)[t.bit_width]
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        if t.precision > MAX_DECIMAL_PRECISION:
            raise ValueError(f"no Athena type for Arrow type {t}: Athena decimals hold at most "
                             f"{MAX_DECIMAL_PRECISION} digits")
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):  # any unit, with or without a time zone
        return "timestamp"
    if any(_is(n, t) for n in ("binary", "large_binary", "binary_view", "fixed_size_binary")):
        return "binary"
    if any(_is(n, t) for n in ("list", "large_list", "list_view", "large_list_view", "fixed_size_list")):
        return f"array<{hive_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{hive_type(t.key_type)},{hive_type(t.item_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.type)}" for f in t) + ">"
    raise ValueError(f"no Athena type for Arrow type {t}")


def glue_columns(schema: pa.Schema, exclude: Iterable[str] = ("dt",),
                 comments: Mapping[str, str] | None = None) -> list[dict]:
    """Glue `Column` entries (Name, Type, Comment) for a schema, leaving out the `exclude` columns.

    A column whose type Athena cannot hold raises ValueError naming the column and the type.
    """
    skip, comments = set(exclude), comments or {}
    out = []
    for f in schema:
        if f.name in skip:
            continue
        try:
            column = {"Name": f.name, "Type": hive_type(f.type)}
        except ValueError as exc:
            raise ValueError(f"column {f.name!r}: {exc}") from None
        comment = comments.get(f.name)
        if comment:
            column["Comment"] = str(comment)[:MAX_COMMENT]
        out.append(column)
    return out
