"""Schema reconciliation: the plain Arrow types every engine here reads, and how a batch fits its table
(safe widenings cast, new columns added, a changed type refused before anything is written)."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.errors import SchemaMismatchError

PARTITION = "dt"


def _plain_type(t: pa.DataType) -> pa.DataType:
    """Types every engine here reads: no large/view strings, no null type, microsecond timestamps."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t) or pa.types.is_null(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_timestamp(t) and t.unit == "ns":
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_dictionary(t):
        return _plain_type(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_plain_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _plain_type(f.type), f.nullable) for f in t])
    if pa.types.is_map(t):
        return pa.map_(_plain_type(t.key_type), _plain_type(t.item_type))
    return t


def plain_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _plain_type(f.type), True) for f in schema])


def to_plain(table: pa.Table) -> pa.Table:
    """Cast a table to plain_schema; nanoseconds are truncated to microseconds (all Delta and Spark keep)."""
    target = plain_schema(table.schema)
    if target == table.schema:
        return table
    columns = [c if c.type == f.type else pc.cast(c, options=pc.CastOptions(f.type, allow_time_truncate=True))
               for c, f in zip(table.columns, target)]
    return pa.Table.from_arrays(columns, schema=target)


def _widens(incoming: pa.DataType, existing: pa.DataType) -> bool:
    """May values of `incoming` be stored in an `existing` column without loss?"""
    if incoming == existing or pa.types.is_null(incoming):
        return True
    if pa.types.is_integer(incoming) and pa.types.is_integer(existing):
        if pa.types.is_signed_integer(incoming) == pa.types.is_signed_integer(existing):
            return existing.bit_width >= incoming.bit_width
        # uint32 fits int64 but not int32; a signed value never fits an unsigned column
        return pa.types.is_unsigned_integer(incoming) and existing.bit_width > incoming.bit_width
    if pa.types.is_floating(incoming) and pa.types.is_floating(existing):
        return existing.bit_width >= incoming.bit_width
    if pa.types.is_timestamp(incoming) and pa.types.is_timestamp(existing):
        return (incoming.tz is None) == (existing.tz is None)
    return False


def reconcile(table_id: str, existing: pa.Schema | None, data: pa.Table) -> tuple[pa.Table, list[str]]:
    """Fit a batch to the table: widen safe types, add missing columns as nulls, refuse type changes."""
    data = to_plain(data)
    if existing is None:
        return data, []
    fields, arrays, added = [], [], []
    for f in existing:
        if f.name in data.column_names:
            column = data.column(f.name)
            if column.type != f.type:
                if not _widens(column.type, f.type):
                    raise SchemaMismatchError(table_id, f.name, str(f.type), str(column.type))
                column = column.cast(f.type)
            arrays.append(column)
        else:
            arrays.append(pa.nulls(data.num_rows, f.type))
        fields.append(pa.field(f.name, f.type, True))
    for f in data.schema:
        if f.name not in existing.names:
            fields.append(pa.field(f.name, f.type, True))
            arrays.append(data.column(f.name))
            added.append(f.name)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), added


def dt_as_string(data: pa.Table) -> pa.Table:
    """`dt` is a string everywhere; Spark hands a date column over as date32, which casts to YYYY-MM-DD."""
    i = data.schema.get_field_index(PARTITION)
    if i < 0 or pa.types.is_string(data.schema.field(i).type):
        return data
    return data.set_column(i, PARTITION, data.column(i).cast(pa.string()))


def delta_schema(table) -> pa.Schema:
    """A delta-rs table's schema in plain Arrow types (what `schema` reports and the Spark read is given)."""
    return plain_schema(pa.schema(table.schema().to_arrow()))

