"""Value checks of the commerce silver and gold contracts, per column (see quality.contracts.contract_schema).

Columns, types, nullability and keys are the table specs' own (silver.py, gold.py); only what a value must
satisfy is written here, as pandera Check names. Keys include `dt` because one batch may hold several days.
"""
from __future__ import annotations

from lakehouse.model.spec import DT

KNOWN_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "CNY", "INR", "BRL", "MXN", "SEK",
                    "NOK", "DKK", "PLN", "SGD", "HKD", "NZD", "ZAR", "KRW")
ORDER_STATUSES = ("placed", "shipped", "cancelled", "returned")
EVENT_TYPES = ("page_view", "add_to_cart", "checkout", "purchase")
SEGMENTS = ("VIP", "High Value", "Medium Value", "Low Value")
SHA256 = r"^[0-9a-f]{64}$"
MASKED_EMAIL = r"^[^@]\*\*\*@[^@]+$"
MASKED_PHONE = r"^\*\*\*\d{4}$"


ORDERS = {
    "status": dict(isin=list(ORDER_STATUSES)),
    "currency": dict(isin=list(KNOWN_CURRENCIES)),
    # Upper bounds are the gate for systemic breakage (a feed switching to cents, a unit mix-up) that the
    # row rules, which judge rows one by one, would let through: such a batch stops the line. Prices are
    # bounded in USD, since a fair price in JPY or KRW is a large number.
    "quantity": dict(gt=0, le=10_000),
    "unit_price": dict(gt=0),
    "amount": dict(gt=0),
    "usd_rate": dict(gt=0),
    "amount_usd": dict(ge=0, le=1_000_000),
}

FX_RATES = {
    "currency": dict(isin=list(KNOWN_CURRENCIES)),
    "usd_rate": dict(gt=0),
}

PRODUCTS = {
    "currency": dict(isin=list(KNOWN_CURRENCIES)),
    "base_price": dict(gt=0),
}

CUSTOMERS = {
    "email_hash": dict(str_matches=SHA256),
    # masked forms only, never a raw value: one character of the local part then ***, *** then 4 digits
    "email_masked": dict(str_matches=MASKED_EMAIL),
    "phone_masked": dict(str_matches=MASKED_PHONE),
    "row_hash": dict(str_matches=SHA256),
    "source_dt": dict(str_matches=DT),
}

EVENTS = {
    "event_type": dict(isin=list(EVENT_TYPES)),
    "event_value": dict(ge=0),
}

CRM_CONTACTS = {
    "email_hash": dict(str_matches=SHA256),
    "email_masked": dict(str_matches=MASKED_EMAIL),
}

CRM_DEALS = {
    "currency": dict(isin=list(KNOWN_CURRENCIES)),
    "amount": dict(ge=0),
    "usd_rate": dict(gt=0),
    "amount_usd": dict(ge=0),
}

DAILY_SALES_SUMMARY = {
    "transactions": dict(gt=0),
    "units": dict(gt=0),
    "revenue_usd": dict(ge=0),
    "avg_order_value_usd": dict(ge=0),
    "unique_customers": dict(gt=0),
}

CUSTOMER_ANALYTICS = {
    "total_spent_usd": dict(ge=0),
    "total_orders": dict(gt=0),
    "avg_order_value_usd": dict(ge=0),
    "segment": dict(isin=list(SEGMENTS)),
    # engagement from silver.customer_behavior: NULL when no behaviour is known for the customer
    "sessions_30d": dict(ge=0),
    "page_views_30d": dict(ge=0),
    "cart_adds_30d": dict(ge=0),
    "minutes_on_site_30d": dict(ge=0),
}

BUSINESS_METRICS = {
    "revenue_usd": dict(ge=0),
    "order_count": dict(gt=0),
    "unique_customers": dict(gt=0),
    "avg_order_value_usd": dict(ge=0),
}

CONVERSION_FUNNEL = {
    "sessions": dict(ge=0),
    "views": dict(ge=0),
    "add_to_cart": dict(ge=0),
    "checkout": dict(ge=0),
    "purchase": dict(ge=0),
    "view_to_cart_rate": dict(ge=0, le=1),
    "cart_to_checkout_rate": dict(ge=0, le=1),
    "checkout_to_purchase_rate": dict(ge=0, le=1),
    "conversion_rate": dict(ge=0, le=1),
}
