"""Pandera contract of silver.customer_behavior, evaluated on the Spark frame before publishing."""
from __future__ import annotations

import pandera.pyspark as pa
import pyspark.sql.types as T

DT = r"^\d{4}-\d{2}-\d{2}$"
# A day has 1440 minutes; more than that on one customer's row means the load went wrong, not the visitor.
MAX_MINUTES = 1440


class CustomerBehavior(pa.DataFrameModel):
    customer_id: T.StringType() = pa.Field()
    activity_date: T.DateType() = pa.Field()
    sessions: T.IntegerType() = pa.Field(ge=0)
    page_views: T.IntegerType() = pa.Field(ge=0)
    cart_adds: T.IntegerType() = pa.Field(ge=0)
    minutes_on_site: T.DecimalType(10, 2) = pa.Field(ge=0, le=MAX_MINUTES)
    updated_at: T.TimestampType() = pa.Field(nullable=True)
    source_file: T.StringType() = pa.Field(nullable=True, alias="_source_file")
    line_number: T.LongType() = pa.Field(nullable=True, alias="_line_number")
    dt: T.StringType() = pa.Field(str_matches=DT)

    class Config:
        strict = True
        unique = ["dt", "customer_id"]
