"""Pandera contracts of billing silver and gold tables, evaluated on the Spark frame before publishing.

Amounts are USD: the source is single-currency, and a row in any other currency is quarantined by silver's
`usd_only` rule rather than converted (documented in docs/domains/billing.md).
"""
from __future__ import annotations

import pandera.pyspark as pa
import pyspark.sql.types as T

SUBSCRIPTION_STATUSES = ("trialing", "active", "past_due", "canceled")
INVOICE_STATUSES = ("draft", "open", "paid", "void", "uncollectible")
TRANSACTION_KINDS = ("payment", "refund")
TRANSACTION_STATUSES = ("pending", "succeeded", "failed")
INTERVALS = ("month", "year")
CURRENCY = "USD"
DT = r"^\d{4}-\d{2}-\d{2}$"
# Upper bounds stop systemic breakage (amounts switching to cents) that row rules judge row by row.
MAX_AMOUNT = 1_000_000


class _Silver(pa.DataFrameModel):
    source_file: T.StringType() = pa.Field(nullable=True, alias="_source_file")
    line_number: T.LongType() = pa.Field(nullable=True, alias="_line_number")
    dt: T.StringType() = pa.Field(str_matches=DT)


class Users(_Silver):
    user_id: T.LongType() = pa.Field()
    email: T.StringType() = pa.Field(nullable=True)
    full_name: T.StringType() = pa.Field(nullable=True)
    country: T.StringType() = pa.Field(nullable=True)
    created_at: T.TimestampType() = pa.Field()
    updated_at: T.TimestampType() = pa.Field()

    class Config:
        strict = True
        unique = ["dt", "user_id"]


class Subscriptions(_Silver):
    subscription_id: T.LongType() = pa.Field()
    user_id: T.LongType() = pa.Field()
    plan: T.StringType() = pa.Field(nullable=True)
    billing_interval: T.StringType() = pa.Field(isin=list(INTERVALS))
    amount: T.DecimalType(18, 2) = pa.Field(ge=0, le=MAX_AMOUNT)
    monthly_amount: T.DecimalType(18, 6) = pa.Field(ge=0, le=MAX_AMOUNT)
    currency: T.StringType() = pa.Field(isin=[CURRENCY])
    status: T.StringType() = pa.Field(isin=list(SUBSCRIPTION_STATUSES))
    started_at: T.TimestampType() = pa.Field()
    canceled_at: T.TimestampType() = pa.Field(nullable=True)
    created_at: T.TimestampType() = pa.Field()
    updated_at: T.TimestampType() = pa.Field()

    class Config:
        strict = True
        unique = ["dt", "subscription_id"]


class Invoices(_Silver):
    invoice_id: T.LongType() = pa.Field()
    user_id: T.LongType() = pa.Field()
    subscription_id: T.LongType() = pa.Field(nullable=True)
    amount: T.DecimalType(18, 2) = pa.Field(ge=0, le=MAX_AMOUNT)
    currency: T.StringType() = pa.Field(isin=[CURRENCY])
    status: T.StringType() = pa.Field(isin=list(INVOICE_STATUSES))
    created_at: T.TimestampType() = pa.Field()
    updated_at: T.TimestampType() = pa.Field()

    class Config:
        strict = True
        unique = ["dt", "invoice_id"]


class Transactions(_Silver):
    transaction_id: T.LongType() = pa.Field()
    invoice_id: T.LongType() = pa.Field(nullable=True)
    user_id: T.LongType() = pa.Field()
    kind: T.StringType() = pa.Field(isin=list(TRANSACTION_KINDS))
    amount: T.DecimalType(18, 2) = pa.Field(gt=0, le=MAX_AMOUNT)
    currency: T.StringType() = pa.Field(isin=[CURRENCY])
    status: T.StringType() = pa.Field(isin=list(TRANSACTION_STATUSES))
    created_at: T.TimestampType() = pa.Field()
    updated_at: T.TimestampType() = pa.Field()

    class Config:
        strict = True
        unique = ["dt", "transaction_id"]


class DailyRevenue(pa.DataFrameModel):
    dt: T.StringType() = pa.Field(str_matches=DT)
    invoiced_usd: T.DecimalType(18, 2) = pa.Field(ge=0)
    collected_usd: T.DecimalType(18, 2) = pa.Field(ge=0)
    refunded_usd: T.DecimalType(18, 2) = pa.Field(ge=0)
    active_subscriptions: T.LongType() = pa.Field(ge=0)
    mrr_usd: T.DecimalType(18, 2) = pa.Field(ge=0)

    class Config:
        strict = True
        unique = ["dt"]
