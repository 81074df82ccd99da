"""Startups gold: one profile per company and day, with a completeness score."""
from __future__ import annotations

from lakehouse.domains.startups import contracts as c
from lakehouse.model.declare import DT_COLUMN
from lakehouse.model.spec import Column, RowRule, TableSpec, Upstream

# Web, health and contact signals older than this are not part of a day's profile (also in the SQL).
SIGNAL_LOOKBACK_DAYS = 30

STARTUP_PROFILES = TableSpec(
    layer="gold", domain="startups", name="startup_profiles",
    description="One row per company and day: canonical company, web tech stack and social links, domain health "
    "and contacts, with a 0-100 completeness score (10 points per signal present).",
    columns=(
        Column("domain", "string", required=True), Column("company_name", "string"),
        Column("website_url", "string", required=True), Column("founded_year", "int"),
        Column("country_code", "string"), Column("city", "string"), Column("industry", "string"),
        Column("employee_count", "int"), Column("annual_revenue_usd", "decimal(18,2)"),
        Column("funding_total_usd", "decimal(18,2)"), Column("last_funding_type", "string"),
        Column("last_funding_on", "date"), Column("sources", "string", required=True),
        Column("tech_stack", "string", "Apollo technologies plus web-detected ones."),
        Column("linkedin_url", "string"), Column("twitter_url", "string"), Column("github_url", "string"),
        Column("pages_crawled", "bigint", "Pages crawled in the lookback window.", True),
        Column("health_score", "int", "Newest silver.domain_health score in the lookback window."),
        Column("is_reachable", "boolean"), Column("last_crawled_at", "timestamp"),
        Column("contacts_count", "bigint", required=True), Column("decision_maker_count", "bigint", required=True),
        Column("completeness_score", "int", "10 points for each of 10 signals present.", True),
        DT_COLUMN,
    ),
    upstreams=(
        Upstream("silver.companies"),
        Upstream("silver.domain_health", "lookback", SIGNAL_LOOKBACK_DAYS),
        Upstream("silver.web_extracts", "lookback", SIGNAL_LOOKBACK_DAYS),
        Upstream("silver.apollo_contacts", "lookback", SIGNAL_LOOKBACK_DAYS),
    ),
    rules=(
        RowRule("completeness_in_range", "completeness_score between 0 and 100", "fail"),
        RowRule("health_in_range", "health_score is null or health_score between 0 and 100", "fail"),
        RowRule("decision_makers_within_contacts", "decision_maker_count <= contacts_count", "fail"),
    ),
    contract=c.STARTUP_PROFILES,
    unique_key=("dt", "domain"),
)

GOLD = (STARTUP_PROFILES,)
