"""Moving tables between Spark and Arrow, the format every store and reader speaks."""
from __future__ import annotations

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession


def to_arrow(df: DataFrame) -> pa.Table:
    # Spark 4 collects straight to Arrow record batches (no pandas round trip); timestamps come back in UTC.
    return df.toArrow()


def to_spark(spark: SparkSession, table: pa.Table) -> DataFrame:
    if table.num_columns == 0:
        return spark.createDataFrame([], "dummy string").drop("dummy")
    return spark.createDataFrame(_spark_compatible(table))


def _spark_compatible(table: pa.Table) -> pa.Table:
    """Spark cannot take Arrow's large/view string types or null-typed columns; cast them to what it can."""
    fields = []
    changed = False
    for f in table.schema:
        t = f.type
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t, changed = pa.string(), True
        elif pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
            t, changed = pa.binary(), True
        elif pa.types.is_null(t):
            t, changed = pa.string(), True
        elif pa.types.is_timestamp(t) and t.unit == "ns":
            t, changed = pa.timestamp("us", tz=t.tz), True
        fields.append(pa.field(f.name, t, f.nullable))
    return table.cast(pa.schema(fields)) if changed else table
