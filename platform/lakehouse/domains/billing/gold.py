"""Billing gold: daily revenue (sql/gold/billing_daily_revenue.sql)."""
from __future__ import annotations

from lakehouse.domains.billing import contracts as c
from lakehouse.model.spec import Column, RowRule, TableSpec, Upstream

DAILY_REVENUE = TableSpec(
    layer="gold", domain="billing", name="billing_daily_revenue",
    description="Per day (UTC, USD): invoiced, collected, refunded, active subscriptions at the end of the day "
                "and MRR (yearly plans / 12).",
    columns=(
        Column("invoiced_usd", "decimal(18,2)", "Invoices created on the day, except draft and void.", True),
        Column("collected_usd", "decimal(18,2)", "Succeeded payments created on the day.", True),
        Column("refunded_usd", "decimal(18,2)", "Succeeded refunds created on the day.", True),
        Column("active_subscriptions", "bigint",
               "Non-trial subscriptions started by the end of the day and not canceled by then.", True),
        Column("mrr_usd", "decimal(18,2)", "Sum of the monthly amounts of those subscriptions.", True),
        Column("dt", "string", "Day.", True),
    ),
    upstreams=(Upstream("silver.billing_invoices"), Upstream("silver.billing_transactions"),
               Upstream("silver.billing_subscriptions")),
    rules=(RowRule("amounts_not_negative",
                   "invoiced_usd >= 0 and collected_usd >= 0 and refunded_usd >= 0 and mrr_usd >= 0", "fail"),),
    contract=c.DAILY_REVENUE,
    unique_key=("dt",),
)

GOLD = (DAILY_REVENUE,)
