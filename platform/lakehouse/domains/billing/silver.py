"""Billing silver: typed, deduplicated, conformed tables. Logic lives in sql/silver/billing_<entity>.sql.

Every silver table: ids as bigint, amounts as decimal(18,2), timestamps in UTC, statuses lower-cased and
mapped to one vocabulary (aliases such as 'cancelled' or 'success' are conformed; anything else is
quarantined by a `known_*` rule). The source table has no unique constraint the export can rely on, so a
re-sent id keeps its latest version (updated_at, then export position) and the others are quarantined by
`latest_version`, never silently dropped. Invoices and transactions keep only rows created on the day, so a
full export (LAKEHOUSE_BILLING_EXPORT_MODE=full) gives the same silver as the incremental one.
"""
from __future__ import annotations

from lakehouse.domains.billing import contracts as c
from lakehouse.domains.pii import SaltedSql
from lakehouse.model.declare import LATEST_VERSION
from lakehouse.model.declare import present as _present
from lakehouse.model.declare import sql_in as _in
from lakehouse.model.spec import Column, RowRule, TableSpec, Upstream

LINEAGE = (Column("_source_file", "string", "Source table the row was exported from."),
           Column("_line_number", "bigint", "Position of the row in the day's export."),
           Column("dt", "string", "Export day (partition).", required=True))
USD_ONLY = RowRule("usd_only", f"currency = '{c.CURRENCY}'", "drop")


def _silver(name, description, columns, rules, contract, unique_key, pii=(), transform=None) -> TableSpec:
    return TableSpec(layer="silver", domain="billing", name=f"billing_{name}", description=description,
                     columns=tuple(columns) + LINEAGE, upstreams=(Upstream(f"bronze.billing_{name}"),),
                     rules=tuple(rules), contract=contract, unique_key=tuple(unique_key), pii=tuple(pii),
                     transform=transform, sql=f"silver/billing_{name}.sql" if transform is not None else None,
                     version_key=unique_key[-1])  # the source's id: a re-sent id keeps its latest version


CREATED = Column("created_at", "timestamp", required=True)
UPDATED = Column("updated_at", "timestamp", "updated_at, or created_at when the source has none.", True)

USERS = _silver(
    "users", "Billing users changed on the day, typed, latest version per user.",
    [Column("user_id", "bigint", required=True),
     Column("email_hash", "string", "sha256(salt || lower-cased, trimmed email): joinable, not reversible."),
     Column("email_masked", "string", "a***@domain.com; null when the email is malformed."),
     Column("display_name", "string", "First name and last initial."),
     Column("country", "string", "Upper-cased ISO code."), CREATED, UPDATED],
    [*_present("user_id", "created_at"), LATEST_VERSION],
    c.USERS, ("dt", "user_id"), pii=("email_hash", "email_masked", "display_name"),
    transform=SaltedSql("silver/billing_users.sql"),  # the raw email and name stop in its SQL
)

SUBSCRIPTIONS = _silver(
    "subscriptions", "Every subscription as of the day, typed and conformed, with its monthly amount.",
    [Column("subscription_id", "bigint", required=True), Column("user_id", "bigint", required=True),
     Column("plan", "string"), Column("billing_interval", "string", "month or year.", True),
     Column("amount", "decimal(18,2)", "Price per billing interval.", True),
     Column("monthly_amount", "decimal(18,6)", "amount for monthly plans, amount / 12 for yearly ones.", True),
     Column("currency", "string", required=True),
     Column("status", "string", "trialing, active, past_due or canceled.", True),
     Column("started_at", "timestamp", required=True), Column("canceled_at", "timestamp"), CREATED, UPDATED],
    [*_present("subscription_id", "user_id", "started_at", "created_at"),
     RowRule("known_status", f"status in {_in(c.SUBSCRIPTION_STATUSES)}", "drop"),
     RowRule("known_interval", f"billing_interval in {_in(c.INTERVALS)}", "drop"),
     RowRule("amount_not_negative", "amount >= 0", "drop"),
     USD_ONLY,
     RowRule("canceled_has_date", "status <> 'canceled' or canceled_at is not null", "drop"),
     LATEST_VERSION],
    c.SUBSCRIPTIONS, ("dt", "subscription_id"),
)

INVOICES = _silver(
    "invoices", "Invoices created on the day, typed and conformed.",
    [Column("invoice_id", "bigint", required=True), Column("user_id", "bigint", required=True),
     Column("subscription_id", "bigint"), Column("amount", "decimal(18,2)", required=True),
     Column("currency", "string", required=True),
     Column("status", "string", "draft, open, paid, void or uncollectible.", True), CREATED, UPDATED],
    [*_present("invoice_id", "user_id", "created_at"),
     RowRule("known_status", f"status in {_in(c.INVOICE_STATUSES)}", "drop"),
     RowRule("amount_not_negative", "amount >= 0", "drop"),
     USD_ONLY, LATEST_VERSION],
    c.INVOICES, ("dt", "invoice_id"),
)

TRANSACTIONS = _silver(
    "transactions", "Payments and refunds created on the day, typed and conformed (amounts positive).",
    [Column("transaction_id", "bigint", required=True), Column("invoice_id", "bigint"),
     Column("user_id", "bigint", required=True), Column("kind", "string", "payment or refund.", True),
     Column("amount", "decimal(18,2)", "Positive; the kind says which way the money went.", True),
     Column("currency", "string", required=True),
     Column("status", "string", "pending, succeeded or failed.", True), CREATED, UPDATED],
    [*_present("transaction_id", "user_id", "created_at"),
     RowRule("known_kind", f"kind in {_in(c.TRANSACTION_KINDS)}", "drop"),
     RowRule("known_status", f"status in {_in(c.TRANSACTION_STATUSES)}", "drop"),
     RowRule("positive_amount", "amount > 0", "drop"),
     USD_ONLY, LATEST_VERSION],
    c.TRANSACTIONS, ("dt", "transaction_id"),
)

SILVER = (USERS, SUBSCRIPTIONS, INVOICES, TRANSACTIONS)
