"""Behaviour bronze: `analytics.customer_behavior` of the analytics warehouse (Amazon Redshift, or any server
speaking the PostgreSQL protocol), exported per activity day through lakehouse.ingest.database.

The table holds one row per customer and activity `day` (a date), rewritten by the warehouse's nightly
load: day dt exports the rows of activity day dt. It is a Redshift table, so the source has no row id to
break ties (tiebreak=None; the key orders the export) and runs SERIALIZABLE, Redshift's snapshot
isolation. The connection is "redshift": LAKEHOUSE_REDSHIFT_DSN (and _BATCH_ROWS, _RETRIES, ...).
"""
from __future__ import annotations

from lakehouse.ingest.database import DatabaseSource
from lakehouse.ingest.postgres import DatabaseExport
from lakehouse.model.spec import Column, TableSpec

T, TS = "text", "timestamp"

SOURCE = DatabaseSource(
    "redshift", "analytics.customer_behavior",
    (("customer_id", T), ("day", T), ("sessions", T), ("page_views", T), ("cart_adds", T),
     ("minutes_on_site", T), ("updated_at", TS)),
    window="created", day_column="day", day_type="date", key=("customer_id", "updated_at"), tiebreak=None,
    isolation="serializable",
)

LINEAGE = (Column("_source_file", "string", "The source table: postgresql://user@host:port/db/schema.table."),
           Column("_line_number", "bigint", "Position of the row in the day's export."),
           Column("_ingested_at", "timestamp", "When the export ran."),
           Column("dt", "string", "Activity day (partition).", required=True))

CUSTOMER_BEHAVIOR = TableSpec(
    layer="bronze", domain="behavior", name="customer_behavior",
    description="Per customer and activity day: sessions, page views, cart adds and minutes on site, as "
                "exported from the analytics warehouse (Redshift).",
    columns=tuple(Column(n, "string", required=n == "customer_id") for n in SOURCE.column_names) + LINEAGE,
    extract=DatabaseExport(SOURCE),
    tags={"source": "redshift", "export_window": SOURCE.window},
)

BRONZE = (CUSTOMER_BEHAVIOR,)
