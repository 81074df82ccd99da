"""Value checks of the billing silver and gold contracts, per column (see quality.contracts.contract_schema).

Amounts are USD: the source is single-currency, and a row in any other currency is quarantined by silver's
`usd_only` rule rather than converted (documented in docs/domains/billing.md).
"""
from __future__ import annotations

SUBSCRIPTION_STATUSES = ("trialing", "active", "past_due", "canceled")
INVOICE_STATUSES = ("draft", "open", "paid", "void", "uncollectible")
TRANSACTION_KINDS = ("payment", "refund")
TRANSACTION_STATUSES = ("pending", "succeeded", "failed")
INTERVALS = ("month", "year")
CURRENCY = "USD"
# Upper bounds stop systemic breakage (amounts switching to cents) that row rules judge row by row.
MAX_AMOUNT = 1_000_000


USERS = {
}

SUBSCRIPTIONS = {
    "billing_interval": dict(isin=list(INTERVALS)),
    "amount": dict(ge=0, le=MAX_AMOUNT),
    "monthly_amount": dict(ge=0, le=MAX_AMOUNT),
    "currency": dict(isin=[CURRENCY]),
    "status": dict(isin=list(SUBSCRIPTION_STATUSES)),
}

INVOICES = {
    "amount": dict(ge=0, le=MAX_AMOUNT),
    "currency": dict(isin=[CURRENCY]),
    "status": dict(isin=list(INVOICE_STATUSES)),
}

TRANSACTIONS = {
    "kind": dict(isin=list(TRANSACTION_KINDS)),
    "amount": dict(gt=0, le=MAX_AMOUNT),
    "currency": dict(isin=[CURRENCY]),
    "status": dict(isin=list(TRANSACTION_STATUSES)),
}

DAILY_REVENUE = {
    "invoiced_usd": dict(ge=0),
    "collected_usd": dict(ge=0),
    "refunded_usd": dict(ge=0),
    "active_subscriptions": dict(ge=0),
    "mrr_usd": dict(ge=0),
}
