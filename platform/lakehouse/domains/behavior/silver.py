"""Behaviour silver: one typed row per customer and activity day (sql/silver/customer_behavior.sql).

Customer ids are trimmed and upper-cased to match the shop's (`C000123`). A row the warehouse re-sent for the
same customer and day keeps its latest version (updated_at, then export position); the others go to
quarantine by `latest_version`, as do rows with negative counts, fewer page views than sessions (a session
opens with a page view), more minutes than a day has, or values that are not numbers.
"""
from __future__ import annotations

from lakehouse.domains.behavior import contracts as c
from lakehouse.model.declare import LATEST_VERSION
from lakehouse.model.spec import Column, RowRule, TableSpec, Upstream

CUSTOMER_BEHAVIOR = TableSpec(
    layer="silver", domain="behavior", name="customer_behavior",
    description="Engagement per customer and activity day: sessions, page views, cart adds, minutes on site.",
    columns=(
        Column("customer_id", "string", "Trimmed, upper-cased shop customer id.", True),
        Column("activity_date", "date", "The day of the activity (= dt).", True),
        Column("sessions", "int", required=True), Column("page_views", "int", required=True),
        Column("cart_adds", "int", required=True),
        Column("minutes_on_site", "decimal(10,2)", required=True),
        Column("updated_at", "timestamp", "When the warehouse last wrote the row."),
        Column("_source_file", "string", "Source table the row was exported from."),
        Column("_line_number", "bigint", "Position of the row in the day's export."),
        Column("dt", "string", "Activity day (partition).", required=True),
    ),
    upstreams=(Upstream("bronze.customer_behavior"),),
    # NULL counts break numeric_counts alone: the other rules let NULL pass so each row names its real fault
    rules=(
        RowRule("customer_id_present", "customer_id is not null", "drop"),
        RowRule("numeric_counts", "sessions is not null and page_views is not null and cart_adds is not null "
                                  "and minutes_on_site is not null", "drop"),
        RowRule("counts_not_negative", "coalesce(sessions >= 0 and page_views >= 0 and cart_adds >= 0 "
                                       "and minutes_on_site >= 0, true)", "drop"),
        RowRule("views_cover_sessions", "coalesce(page_views >= sessions, true)", "drop"),
        RowRule("minutes_within_day", f"coalesce(minutes_on_site <= {c.MAX_MINUTES}, true)", "drop"),
        LATEST_VERSION,
    ),
    contract=c.CUSTOMER_BEHAVIOR,
    unique_key=("dt", "customer_id"),
    version_key="customer_id",  # the warehouse's load may re-send a customer's day: the latest version wins
)

SILVER = (CUSTOMER_BEHAVIOR,)
