"""Commerce silver: typed, deduplicated, conformed tables. Logic lives in sql/silver/<name>.sql."""
from __future__ import annotations

from lakehouse.domains.commerce import contracts as c
from lakehouse.domains.pii import SaltedSql
from lakehouse.model.declare import LINEAGE
from lakehouse.model.declare import present as _present
from lakehouse.model.declare import sql_in as _in
from lakehouse.model.spec import Column, RowRule, TableSpec, Upstream

KNOWN_CURRENCY = _in(c.KNOWN_CURRENCIES)
# Pseudonymized personal data, as in silver.apollo_contacts (see sql/silver/customers.sql): still personal data,
# so flagged PII and masked for readers without the pii scope.
PSEUDONYMS = (Column("display_name", "string", "First name and last initial."),
              Column("email_hash", "string", "sha256(salt || lower(trim(email))), salt from LAKEHOUSE_PII_SALT."),
              Column("email_masked", "string", "First character, ***@, mail domain."),
              Column("email_domain", "string"))
EMAIL_WELL_FORMED = RowRule("email_well_formed", "email_hash is null or email_masked is not null", "warn")
# FX rates skip weekends and holidays: an order may use a rate up to 7 days old, and an order may arrive
# up to a few days after its order date, so the rates of the 10 days before a batch are read.
FX_LOOKBACK_DAYS = 10


def _silver(name, description, columns, upstreams, rules, contract, unique_key, pii=(), transform=None,
            measures=()) -> TableSpec:
    return TableSpec(layer="silver", domain="commerce", name=name, description=description,
                     columns=tuple(columns) + LINEAGE, upstreams=tuple(upstreams), rules=tuple(rules),
                     contract=contract, unique_key=tuple(unique_key), pii=tuple(pii), transform=transform,
                     sql=f"silver/{name}.sql" if transform is not None else None, measures=tuple(measures))


FX_RATES = _silver(
    "fx_rates", "One USD rate per rate date and currency, per delivery day.",
    [Column("rate_date", "date", "Day the rate is for.", True), Column("currency", "string", "ISO 4217 code.", True),
     Column("rate_source", "string"), Column("usd_rate", "decimal(18,8)", "USD per one unit of currency.", True)],
    [Upstream("bronze.fx_rates")],
    [*_present("rate_date", "currency"),
     RowRule("known_currency", f"currency in {KNOWN_CURRENCY}", "drop"),
     RowRule("positive_rate", "usd_rate > 0", "drop")],
    c.FX_RATES, ("dt", "rate_date", "currency"),
)

ORDERS = _silver(
    "orders", "Shop orders, typed and deduplicated, with amount and amount_usd (FX as-of the order date).",
    [Column("order_id", "string", required=True), Column("customer_id", "string", required=True),
     Column("product_id", "string", required=True), Column("status", "string", required=True),
     Column("region", "string"), Column("payment_method", "string"), Column("currency", "string", required=True),
     Column("quantity", "int", required=True), Column("unit_price", "decimal(18,2)", required=True),
     Column("amount", "decimal(18,2)", "quantity x unit_price.", True),
     Column("usd_rate", "decimal(18,8)", "Rate used (1 for USD).", True),
     Column("amount_usd", "decimal(18,2)", "amount x usd_rate.", True),
     Column("fx_rate_date", "date", "Date of the rate used.", True),
     Column("order_ts", "timestamp", required=True), Column("order_date", "date", required=True)],
    [Upstream("bronze.shop_orders"), Upstream("silver.fx_rates", "lookback", FX_LOOKBACK_DAYS, need="as_of")],
    [*_present("order_id", "customer_id", "product_id"),
     RowRule("latest_delivery", "__delivery_rank = 1", "drop"),
     RowRule("parsable_timestamp", "order_ts is not null", "drop"),
     RowRule("positive_quantity", "quantity > 0", "drop"),
     RowRule("positive_unit_price", "unit_price > 0", "drop"),
     RowRule("known_currency", f"currency in {KNOWN_CURRENCY}", "drop"),
     RowRule("known_status", f"status in {_in(c.ORDER_STATUSES)}", "drop"),
     # an order whose currency has no rate within 7 days before its date is never published unpriced
     RowRule("fx_rate_available", "amount_usd is not null", "drop"),
     # a date after the delivery day (+1 for time zones) or more than a year before it is a broken clock or
     # a unit mix-up, not a sale: it would land in the wrong day's revenue (a missing date is judged above)
     RowRule("plausible_order_date", "order_date is null or order_date between date_sub(to_date(dt), 366) "
             "and date_add(to_date(dt), 1)", "drop"),
     RowRule("arrived_on_order_day", "order_date >= to_date(dt)", "warn")],
    c.ORDERS, ("dt", "order_id"), measures=("amount_usd", "quantity"),
)

PRODUCTS = _silver(
    "products", "Daily catalog snapshot, one row per product and day.",
    [Column("product_id", "string", required=True), Column("product_name", "string"), Column("category", "string"),
     Column("currency", "string", required=True), Column("base_price", "decimal(18,2)", required=True),
     Column("is_active", "boolean")],
    [Upstream("bronze.shop_products")],
    [*_present("product_id"),
     RowRule("positive_base_price", "base_price > 0", "drop"),
     RowRule("known_currency", f"currency in {KNOWN_CURRENCY}", "drop"),
     RowRule("category_present", "category is not null", "warn"),
     RowRule("active_flag_readable", "is_active is not null", "warn")],
    c.PRODUCTS, ("dt", "product_id"),
)

CUSTOMERS = _silver(
    "customers", "Customer history, SCD type 2; partition dt holds the whole history as known at the end of dt. "
    "Names, email and phone pseudonymized; raw values stay in bronze.",
    [Column("customer_id", "string", required=True), *PSEUDONYMS,
     Column("phone_masked", "string", "*** and the last 4 digits."),
     Column("country", "string"), Column("row_hash", "string", "sha256(salt || the tracked attributes).", True),
     Column("valid_from", "timestamp", required=True), Column("valid_to", "timestamp"),
     Column("is_current", "boolean", required=True),
     Column("source_dt", "string", "Day the version arrived.", True)],
    [Upstream("bronze.shop_customers"), Upstream("silver.customers")],
    [*_present("customer_id"),
     RowRule("parsable_updated_at", "valid_from is not null", "drop"),
     EMAIL_WELL_FORMED,
     # a broken interval is a bug in the model, not in the data: refuse the whole batch
     RowRule("valid_interval", "valid_to is null or valid_to > valid_from", "fail")],
    c.CUSTOMERS, ("dt", "customer_id", "valid_from"),
    pii=("display_name", "email_hash", "email_masked", "phone_masked"), transform=SaltedSql("silver/customers.sql"),
)

EVENTS = _silver(
    "events", "Clickstream events, typed, one row per event_id and day.",
    [Column("event_id", "string", required=True), Column("user_id", "string"),
     Column("session_id", "string", required=True), Column("event_type", "string", required=True),
     Column("page", "string"), Column("event_value", "decimal(18,2)"), Column("event_ts", "timestamp", required=True)],
    # click events arrive as landed files, from Kafka, or both: either source alone is enough for a day
    [Upstream("bronze.events_clickstream", need="any"), Upstream("bronze.events_kafka", need="any")],
    [*_present("event_id", "session_id"),
     RowRule("first_delivery", "__delivery_rank = 1", "drop"),
     RowRule("parsable_timestamp", "event_ts is not null", "drop"),
     RowRule("known_event_type", f"event_type in {_in(c.EVENT_TYPES)}", "drop"),
     RowRule("non_negative_value", "event_value is null or event_value >= 0", "drop")],
    c.EVENTS, ("dt", "event_id"),
)

CRM_CONTACTS = _silver(
    "crm_contacts", "CRM contacts flattened from the CRM API shape, one row per contact and day. Names and "
    "email pseudonymized; raw values stay in bronze.",
    [Column("contact_id", "string", required=True), *PSEUDONYMS,
     Column("company", "string"), Column("lifecycle_stage", "string"),
     Column("customer_id", "string", "Shop customer the contact is associated with."),
     Column("created_at", "timestamp"), Column("updated_at", "timestamp"), Column("is_archived", "boolean", required=True)],
    [Upstream("bronze.crm_contacts")],
    [*_present("contact_id"), EMAIL_WELL_FORMED],
    c.CRM_CONTACTS, ("dt", "contact_id"), pii=("display_name", "email_hash", "email_masked"),
    transform=SaltedSql("silver/crm_contacts.sql"),
)

CRM_DEALS = _silver(
    "crm_deals", "CRM deals flattened from the CRM API shape, with amount_usd (FX as-of the deal's day).",
    [Column("deal_id", "string", required=True), Column("deal_name", "string"), Column("stage", "string"),
     Column("pipeline", "string"), Column("contact_id", "string"), Column("currency", "string", required=True),
     Column("amount", "decimal(18,2)", required=True), Column("usd_rate", "decimal(18,8)", required=True),
     Column("amount_usd", "decimal(18,2)", required=True), Column("fx_rate_date", "date", required=True),
     Column("close_date", "date"), Column("created_at", "timestamp"), Column("updated_at", "timestamp"),
     Column("is_archived", "boolean", required=True)],
    [Upstream("bronze.crm_deals"), Upstream("silver.fx_rates", "lookback", FX_LOOKBACK_DAYS, need="as_of")],
    [*_present("deal_id"),
     RowRule("non_negative_amount", "amount >= 0", "drop"),
     RowRule("known_currency", f"currency in {KNOWN_CURRENCY}", "drop"),
     RowRule("fx_rate_available", "amount_usd is not null", "drop")],
    c.CRM_DEALS, ("dt", "deal_id"), measures=("amount_usd",),
)

SILVER = (FX_RATES, ORDERS, PRODUCTS, CUSTOMERS, EVENTS, CRM_CONTACTS, CRM_DEALS)
