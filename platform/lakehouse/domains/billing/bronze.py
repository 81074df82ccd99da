"""Billing bronze: the PostgreSQL tables exported per day (lakehouse.ingest.database), values as text.

Which rows a day holds (mode "incremental", the default; LAKEHOUSE_BILLING_EXPORT_MODE=full exports every row):
- invoices, transactions: immutable facts, rows *created* on dt (UTC);
- users: a change feed, rows created or updated on dt (`coalesce(updated_at, created_at)`), so a late change
  is picked up on the day it is made;
- subscriptions: the full table as of the end of dt (rows created by then), because active subscriptions and
  MRR need every subscription's current state, and a cancellation can touch a row of any age.
"""
from __future__ import annotations

from lakehouse.ingest.database import DatabaseSource
from lakehouse.ingest.postgres import DatabaseExport
from lakehouse.model.spec import Column, TableSpec

T, TS = "text", "timestamp"


def _source(table: str, columns, window) -> DatabaseSource:
    return DatabaseSource("billing", f"public.{table}", columns, window=window)


SOURCES = {
    "users": _source("users", (("id", T), ("email", T), ("full_name", T), ("country", T),
                              ("created_at", TS), ("updated_at", TS)), "updated"),
    "subscriptions": _source("subscriptions", (
        ("id", T), ("user_id", T), ("plan", T), ("billing_interval", T), ("amount", T), ("currency", T),
        ("status", T), ("started_at", TS), ("canceled_at", TS), ("created_at", TS), ("updated_at", TS)),
        "snapshot"),
    "invoices": _source("invoices", (
        ("id", T), ("user_id", T), ("subscription_id", T), ("amount", T), ("currency", T), ("status", T),
        ("created_at", TS), ("updated_at", TS)), "created"),
    "transactions": _source("transactions", (
        ("id", T), ("invoice_id", T), ("user_id", T), ("kind", T), ("amount", T), ("currency", T),
        ("status", T), ("created_at", TS), ("updated_at", TS)), "created"),
}

DESCRIPTIONS = {
    "users": "Billing users created or changed on the day, as exported from PostgreSQL.",
    "subscriptions": "Every billing subscription as of the end of the day (daily snapshot), as exported.",
    "invoices": "Billing invoices created on the day, as exported from PostgreSQL.",
    "transactions": "Payments and refunds created on the day, as exported from PostgreSQL.",
}
LINEAGE = (Column("_source_file", "string", "The source table: postgresql://user@host:port/db/schema.table."),
           Column("_line_number", "bigint", "Position of the row in the day's export."),
           Column("_ingested_at", "timestamp", "When the export ran."),
           Column("dt", "string", "Export day (partition).", required=True))


def _bronze(entity: str, pii=()) -> TableSpec:
    source = SOURCES[entity]
    columns = tuple(Column(n, "string", required=n == "id") for n in source.column_names)
    return TableSpec(layer="bronze", domain="billing", name=f"billing_{entity}", description=DESCRIPTIONS[entity],
                     columns=columns + LINEAGE, extract=DatabaseExport(source), pii=tuple(pii),
                     tags={"source": "postgresql", "export_window": source.window})


BRONZE = (
    _bronze("users", pii=("email", "full_name")),
    _bronze("subscriptions"),
    _bronze("invoices"),
    _bronze("transactions"),
)
