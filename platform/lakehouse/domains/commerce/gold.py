"""Commerce gold: sales, customer value, monthly business metrics and the web funnel."""
from __future__ import annotations

from lakehouse.domains.commerce import contracts as c
from lakehouse.model.declare import DT_COLUMN
from lakehouse.model.spec import Column, RowRule, TableSpec, Upstream


def _gold(name, description, columns, upstreams, rules, contract, unique_key, partitioning="daily",
          measures=()) -> TableSpec:
    return TableSpec(layer="gold", domain="commerce", name=name, description=description,
                     columns=tuple(columns) + (DT_COLUMN,),
                     upstreams=tuple(upstreams), rules=tuple(rules), contract=contract,
                     unique_key=tuple(unique_key), partitioning=partitioning, measures=tuple(measures))


# A catalog snapshot may be missing for a day: take the newest one of the week before.
PRODUCTS_LOOKBACK_DAYS = 7

DAILY_SALES_SUMMARY = _gold(
    "daily_sales_summary", "Sales per day, product category and region (cancelled and returned orders excluded).",
    [Column("category", "string", required=True), Column("region", "string", required=True),
     Column("transactions", "bigint", required=True), Column("units", "bigint", required=True),
     Column("revenue_usd", "decimal(18,2)", required=True), Column("avg_order_value_usd", "decimal(18,2)", required=True),
     Column("unique_customers", "bigint", required=True)],
    [Upstream("silver.orders"), Upstream("silver.products", "lookback", PRODUCTS_LOOKBACK_DAYS, need="as_of")],
    [RowRule("revenue_not_negative", "revenue_usd >= 0", "fail"),
     RowRule("known_category", "category <> 'Unknown'", "warn")],
    c.DAILY_SALES_SUMMARY, ("dt", "category", "region"), measures=("revenue_usd", "units", "transactions"),
)

# Engagement (silver.customer_behavior, from the analytics warehouse) is summed over the 30 days up to dt.
ENGAGEMENT_DAYS = 30
_ENGAGEMENT = "NULL when no behaviour is known for the customer in the 30 days (or the source is not configured)."

CUSTOMER_ANALYTICS = _gold(
    "customer_analytics", "Lifetime value per customer as of each day, with a value segment and the customer's "
                          "engagement over the last 30 days (when the behaviour source has data).",
    [Column("customer_id", "string", required=True), Column("total_spent_usd", "decimal(18,2)", required=True),
     Column("total_orders", "bigint", required=True), Column("avg_order_value_usd", "decimal(18,2)", required=True),
     Column("first_purchase_date", "date", required=True), Column("last_purchase_date", "date", required=True),
     Column("segment", "string", "VIP > 10000, High Value > 5000, Medium Value > 1000, else Low Value.", True),
     Column("sessions_30d", "bigint", "Sessions in the 30 days up to dt. " + _ENGAGEMENT),
     Column("page_views_30d", "bigint", "Page views in the 30 days up to dt. " + _ENGAGEMENT),
     Column("cart_adds_30d", "bigint", "Cart adds in the 30 days up to dt. " + _ENGAGEMENT),
     Column("minutes_on_site_30d", "decimal(18,2)", "Minutes on site in the 30 days up to dt. " + _ENGAGEMENT),
     Column("last_active_date", "date", "Latest activity day within the 30 days. " + _ENGAGEMENT)],
    # behaviour is optional: the commerce job and its automation never wait for it (see docs/architecture.md)
    [Upstream("silver.orders", "history"),
     Upstream("silver.customer_behavior", "lookback", ENGAGEMENT_DAYS - 1, need="optional")],
    [RowRule("purchase_dates_ordered", "first_purchase_date <= last_purchase_date", "fail")],
    c.CUSTOMER_ANALYTICS, ("dt", "customer_id"),
)

BUSINESS_METRICS = _gold(
    "business_metrics", "Monthly revenue, orders and customers by product category (dt = the month's first day).",
    [Column("category", "string", required=True), Column("revenue_usd", "decimal(18,2)", required=True),
     Column("order_count", "bigint", required=True), Column("unique_customers", "bigint", required=True),
     Column("avg_order_value_usd", "decimal(18,2)", required=True)],
    [Upstream("silver.orders", "month"), Upstream("silver.products", "month")],
    [RowRule("revenue_not_negative", "revenue_usd >= 0", "fail")],
    c.BUSINESS_METRICS, ("dt", "category"), partitioning="monthly", measures=("revenue_usd", "order_count"),
)

CONVERSION_FUNNEL = _gold(
    "conversion_funnel", "Sessions per day through view -> add to cart -> checkout -> purchase, with step rates.",
    [Column("sessions", "bigint", required=True), Column("views", "bigint", required=True),
     Column("add_to_cart", "bigint", required=True), Column("checkout", "bigint", required=True),
     Column("purchase", "bigint", required=True), Column("view_to_cart_rate", "double"),
     Column("cart_to_checkout_rate", "double"), Column("checkout_to_purchase_rate", "double"),
     Column("conversion_rate", "double")],
    [Upstream("silver.events")],
    [RowRule("funnel_narrows", "views >= add_to_cart and add_to_cart >= checkout and checkout >= purchase", "fail"),
     RowRule("has_views", "views > 0", "warn")],
    c.CONVERSION_FUNNEL, ("dt",), measures=("sessions", "purchase"),
)

GOLD = (DAILY_SALES_SUMMARY, CUSTOMER_ANALYTICS, BUSINESS_METRICS, CONVERSION_FUNNEL)
