"""Pandera contracts of commerce silver and gold tables, evaluated on the Spark frame before publishing.

Key uniqueness is declared with `Config.unique` (pandera.pyspark ignores `Field(unique=True)`). Keys include
`dt` because one batch may hold several days. `strict = True` pins the published schema: a column the model
starts to emit, or stops emitting, fails the gate instead of drifting into the table.
"""
from __future__ import annotations

import pandera.pyspark as pa
import pyspark.sql.types as T

KNOWN_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "CNY", "INR", "BRL", "MXN", "SEK",
                    "NOK", "DKK", "PLN", "SGD", "HKD", "NZD", "ZAR", "KRW")
ORDER_STATUSES = ("placed", "shipped", "cancelled", "returned")
EVENT_TYPES = ("page_view", "add_to_cart", "checkout", "purchase")
SEGMENTS = ("VIP", "High Value", "Medium Value", "Low Value")
DT = r"^\d{4}-\d{2}-\d{2}$"
MONTH_DT = r"^\d{4}-\d{2}-01$"
SHA256 = r"^[0-9a-f]{64}$"
MASKED_EMAIL = r"^[^@]\*\*\*@[^@]+$"
MASKED_PHONE = r"^\*\*\*\d{4}$"


class _Contract(pa.DataFrameModel):
    source_file: T.StringType() = pa.Field(nullable=True, alias="_source_file")
    line_number: T.LongType() = pa.Field(nullable=True, alias="_line_number")
    dt: T.StringType() = pa.Field(str_matches=DT)

    class Config:
        strict = True


class Orders(_Contract):
    order_id: T.StringType() = pa.Field()
    customer_id: T.StringType() = pa.Field()
    product_id: T.StringType() = pa.Field()
    status: T.StringType() = pa.Field(isin=list(ORDER_STATUSES))
    region: T.StringType() = pa.Field(nullable=True)
    payment_method: T.StringType() = pa.Field(nullable=True)
    currency: T.StringType() = pa.Field(isin=list(KNOWN_CURRENCIES))
    # Upper bounds are the gate for systemic breakage (a feed switching to cents, a unit mix-up) that the
    # row rules, which judge rows one by one, would let through: such a batch stops the line. Prices are
    # bounded in USD, since a fair price in JPY or KRW is a large number.
    quantity: T.IntegerType() = pa.Field(gt=0, le=10_000)
    unit_price: T.DecimalType(18, 2) = pa.Field(gt=0)
    amount: T.DecimalType(18, 2) = pa.Field(gt=0)
    usd_rate: T.DecimalType(18, 8) = pa.Field(gt=0)
    amount_usd: T.DecimalType(18, 2) = pa.Field(ge=0, le=1_000_000)
    fx_rate_date: T.DateType() = pa.Field()
    order_ts: T.TimestampType() = pa.Field()
    order_date: T.DateType() = pa.Field()

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "order_id"]


class FxRates(_Contract):
    rate_date: T.DateType() = pa.Field()
    currency: T.StringType() = pa.Field(isin=list(KNOWN_CURRENCIES))
    rate_source: T.StringType() = pa.Field(nullable=True)
    usd_rate: T.DecimalType(18, 8) = pa.Field(gt=0)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "rate_date", "currency"]


class Products(_Contract):
    product_id: T.StringType() = pa.Field()
    product_name: T.StringType() = pa.Field(nullable=True)
    category: T.StringType() = pa.Field(nullable=True)
    currency: T.StringType() = pa.Field(isin=list(KNOWN_CURRENCIES))
    base_price: T.DecimalType(18, 2) = pa.Field(gt=0)
    is_active: T.BooleanType() = pa.Field(nullable=True)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "product_id"]


class Customers(_Contract):
    customer_id: T.StringType() = pa.Field()
    display_name: T.StringType() = pa.Field(nullable=True)
    email_hash: T.StringType() = pa.Field(nullable=True, str_matches=SHA256)
    # masked forms only, never a raw value: one character of the local part then ***, *** then 4 digits
    email_masked: T.StringType() = pa.Field(nullable=True, str_matches=MASKED_EMAIL)
    email_domain: T.StringType() = pa.Field(nullable=True)
    phone_masked: T.StringType() = pa.Field(nullable=True, str_matches=MASKED_PHONE)
    country: T.StringType() = pa.Field(nullable=True)
    row_hash: T.StringType() = pa.Field(str_matches=SHA256)
    valid_from: T.TimestampType() = pa.Field()
    valid_to: T.TimestampType() = pa.Field(nullable=True)
    is_current: T.BooleanType() = pa.Field()
    source_dt: T.StringType() = pa.Field(str_matches=DT)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "customer_id", "valid_from"]


class Events(_Contract):
    event_id: T.StringType() = pa.Field()
    user_id: T.StringType() = pa.Field(nullable=True)
    session_id: T.StringType() = pa.Field()
    event_type: T.StringType() = pa.Field(isin=list(EVENT_TYPES))
    page: T.StringType() = pa.Field(nullable=True)
    event_value: T.DecimalType(18, 2) = pa.Field(nullable=True, ge=0)
    event_ts: T.TimestampType() = pa.Field()

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "event_id"]


class CrmContacts(_Contract):
    contact_id: T.StringType() = pa.Field()
    display_name: T.StringType() = pa.Field(nullable=True)
    email_hash: T.StringType() = pa.Field(nullable=True, str_matches=SHA256)
    email_masked: T.StringType() = pa.Field(nullable=True, str_matches=MASKED_EMAIL)
    email_domain: T.StringType() = pa.Field(nullable=True)
    company: T.StringType() = pa.Field(nullable=True)
    lifecycle_stage: T.StringType() = pa.Field(nullable=True)
    customer_id: T.StringType() = pa.Field(nullable=True)
    created_at: T.TimestampType() = pa.Field(nullable=True)
    updated_at: T.TimestampType() = pa.Field(nullable=True)
    is_archived: T.BooleanType() = pa.Field()

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "contact_id"]


class CrmDeals(_Contract):
    deal_id: T.StringType() = pa.Field()
    deal_name: T.StringType() = pa.Field(nullable=True)
    stage: T.StringType() = pa.Field(nullable=True)
    pipeline: T.StringType() = pa.Field(nullable=True)
    contact_id: T.StringType() = pa.Field(nullable=True)
    currency: T.StringType() = pa.Field(isin=list(KNOWN_CURRENCIES))
    amount: T.DecimalType(18, 2) = pa.Field(ge=0)
    usd_rate: T.DecimalType(18, 8) = pa.Field(gt=0)
    amount_usd: T.DecimalType(18, 2) = pa.Field(ge=0)
    fx_rate_date: T.DateType() = pa.Field()
    close_date: T.DateType() = pa.Field(nullable=True)
    created_at: T.TimestampType() = pa.Field(nullable=True)
    updated_at: T.TimestampType() = pa.Field(nullable=True)
    is_archived: T.BooleanType() = pa.Field()

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "deal_id"]


class _GoldContract(pa.DataFrameModel):
    dt: T.StringType() = pa.Field(str_matches=DT)

    class Config:
        strict = True


class DailySalesSummary(_GoldContract):
    category: T.StringType() = pa.Field()
    region: T.StringType() = pa.Field()
    transactions: T.LongType() = pa.Field(gt=0)
    units: T.LongType() = pa.Field(gt=0)
    revenue_usd: T.DecimalType(18, 2) = pa.Field(ge=0)
    avg_order_value_usd: T.DecimalType(18, 2) = pa.Field(ge=0)
    unique_customers: T.LongType() = pa.Field(gt=0)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "category", "region"]


class CustomerAnalytics(_GoldContract):
    customer_id: T.StringType() = pa.Field()
    total_spent_usd: T.DecimalType(18, 2) = pa.Field(ge=0)
    total_orders: T.LongType() = pa.Field(gt=0)
    avg_order_value_usd: T.DecimalType(18, 2) = pa.Field(ge=0)
    first_purchase_date: T.DateType() = pa.Field()
    last_purchase_date: T.DateType() = pa.Field()
    segment: T.StringType() = pa.Field(isin=list(SEGMENTS))
    # engagement from silver.customer_behavior: NULL when no behaviour is known for the customer
    sessions_30d: T.LongType() = pa.Field(nullable=True, ge=0)
    page_views_30d: T.LongType() = pa.Field(nullable=True, ge=0)
    cart_adds_30d: T.LongType() = pa.Field(nullable=True, ge=0)
    minutes_on_site_30d: T.DecimalType(18, 2) = pa.Field(nullable=True, ge=0)
    last_active_date: T.DateType() = pa.Field(nullable=True)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "customer_id"]


class BusinessMetrics(_GoldContract):
    dt: T.StringType() = pa.Field(str_matches=MONTH_DT)
    category: T.StringType() = pa.Field()
    revenue_usd: T.DecimalType(18, 2) = pa.Field(ge=0)
    order_count: T.LongType() = pa.Field(gt=0)
    unique_customers: T.LongType() = pa.Field(gt=0)
    avg_order_value_usd: T.DecimalType(18, 2) = pa.Field(ge=0)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "category"]


class ConversionFunnel(_GoldContract):
    sessions: T.LongType() = pa.Field(ge=0)
    views: T.LongType() = pa.Field(ge=0)
    add_to_cart: T.LongType() = pa.Field(ge=0)
    checkout: T.LongType() = pa.Field(ge=0)
    purchase: T.LongType() = pa.Field(ge=0)
    view_to_cart_rate: T.DoubleType() = pa.Field(nullable=True, ge=0, le=1)
    cart_to_checkout_rate: T.DoubleType() = pa.Field(nullable=True, ge=0, le=1)
    checkout_to_purchase_rate: T.DoubleType() = pa.Field(nullable=True, ge=0, le=1)
    conversion_rate: T.DoubleType() = pa.Field(nullable=True, ge=0, le=1)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt"]
