"""Startups silver: typed, normalized, deduplicated and PII-masked. Logic lives in sql/silver/<name>.sql.

Every model normalizes domains the same way (lower case, no scheme, no www, no path, query, port or trailing
dot) and every published domain must match USABLE_DOMAIN. Repeated deliveries are quarantined by a
`latest_delivery` / `latest_fetch` rule over the model's `__delivery_rank`, never dropped silently.
"""
from __future__ import annotations

from lakehouse.domains.startups import contracts as c
from lakehouse.domains.startups.transforms import CONTACTS_SQL, apollo_contacts
from lakehouse.model.declare import DT_COLUMN, LINEAGE
from lakehouse.model.declare import present as _present
from lakehouse.model.spec import Column, RowRule, TableSpec, Upstream

# The same pattern as contracts.DOMAIN, in Spark SQL: labels of [a-z0-9-], at least one dot, a TLD of 2+ letters.
USABLE_DOMAIN = "'^[a-z0-9]([a-z0-9-]*[a-z0-9])?([.][a-z0-9]([a-z0-9-]*[a-z0-9])?)*[.][a-z]{2,}$'"
DT_ONLY = (DT_COLUMN,)


def _silver(name, description, columns, upstreams, rules, contract, unique_key, pii=(), lineage=LINEAGE,
            **extra) -> TableSpec:
    return TableSpec(layer="silver", domain="startups", name=name, description=description,
                     columns=tuple(columns) + lineage, upstreams=tuple(upstreams), rules=tuple(rules),
                     contract=contract, unique_key=tuple(unique_key), pii=tuple(pii), **extra)


def _usable(col: str, name: str = "usable_domain") -> RowRule:
    return RowRule(name, f"{col} rlike {USABLE_DOMAIN}", "drop")


LATEST_DELIVERY = RowRule("latest_delivery", "__delivery_rank = 1", "drop")

APOLLO_COMPANIES = _silver(
    "apollo_companies", "Apollo companies, typed, with a normalized domain; one row per company id and day.",
    [Column("company_id", "string", "Apollo organization id.", True), Column("company_name", "string"),
     Column("domain", "string", "Normalized: lower case, no scheme, no www, no path.", True),
     Column("website_url", "string", "As sent (trimmed)."), Column("industry", "string", "Lower case."),
     Column("estimated_num_employees", "int"), Column("annual_revenue_usd", "decimal(18,2)"),
     Column("technologies", "string", "Lower case, sorted, comma-separated."),
     Column("founded_year", "int", "Null when implausible (before 1800 or after the delivery day).")],
    [Upstream("bronze.apollo_companies")],
    [*_present("company_id"), _usable("domain"), LATEST_DELIVERY,
     RowRule("founded_year_plausible", "__founded_year_raw is null or founded_year is not null", "warn"),
     RowRule("name_present", "company_name is not null", "warn")],
    c.APOLLO_COMPANIES, ("dt", "company_id"),
)

APOLLO_CONTACTS = _silver(
    "apollo_contacts", "Apollo contacts with PII masked (salted email hash, masked email and phone); one row per "
    "contact id and day. Raw email, phone, last name and LinkedIn URL stay in bronze.",
    [Column("contact_id", "string", required=True),
     Column("organization_domain", "string", "Normalized domain of the contact's company.", True),
     Column("display_name", "string", "First name and last initial."), Column("title", "string"),
     Column("seniority", "string", "Lower snake case."), Column("departments", "string", "Sorted, comma-separated."),
     Column("email_hash", "string", "sha256(salt || lower(trim(email))), salt from LAKEHOUSE_PII_SALT."),
     Column("email_masked", "string", "First character, ***@, mail domain."),
     Column("email_domain", "string"), Column("phone_masked", "string", "*** and the last 4 digits."),
     Column("has_linkedin", "boolean", "Whether a personal LinkedIn URL was sent.", True)],
    [Upstream("bronze.apollo_contacts")],
    [*_present("contact_id"), _usable("organization_domain", "organization_domain_usable"), LATEST_DELIVERY,
     RowRule("email_present", "email_hash is not null", "warn"),
     RowRule("email_well_formed", "email_hash is null or email_masked is not null", "warn")],
    c.APOLLO_CONTACTS, ("dt", "contact_id"),
    pii=("display_name", "email_hash", "email_masked", "phone_masked"),  # pseudonymized is still personal data
    sql=CONTACTS_SQL, transform=apollo_contacts,
)

COMPANIES = _silver(
    "companies", "One canonical company per normalized domain across Crunchbase and Apollo (survivorship); "
    "partition dt holds every company known at the end of dt.",
    [Column("domain", "string", required=True), Column("company_name", "string"),
     Column("company_name_source", "string", "Provider that won: crunchbase over apollo."),
     Column("website_url", "string", "https://<domain>.", True),
     Column("founded_year", "int"), Column("founded_year_source", "string", "crunchbase over apollo."),
     Column("country_code", "string"), Column("city", "string"),
     Column("industry", "string"), Column("industry_source", "string", "apollo over crunchbase's first category."),
     Column("categories", "string", "Crunchbase categories, sorted."),
     Column("employee_count", "int"), Column("employee_count_source", "string",
                                             "apollo estimate over crunchbase range midpoint."),
     Column("annual_revenue_usd", "decimal(18,2)"), Column("funding_total_usd", "decimal(18,2)"),
     Column("last_funding_type", "string"), Column("last_funding_on", "date"),
     Column("linkedin_url", "string"), Column("twitter_url", "string"), Column("technologies", "string"),
     Column("crunchbase_uuid", "string"), Column("apollo_id", "string"),
     Column("sources", "string", "Providers that know the company.", True),
     Column("first_seen_dt", "string", required=True), Column("last_seen_dt", "string", required=True)],
    [Upstream("bronze.crunchbase_organizations"), Upstream("silver.apollo_companies"), Upstream("silver.companies")],
    [_usable("domain"),
     RowRule("provider_id_present", "crunchbase_uuid is not null or apollo_id is not null", "drop"),
     LATEST_DELIVERY,
     RowRule("name_present", "company_name is not null", "warn")],
    c.COMPANIES, ("dt", "domain"),
)

WEB_EXTRACTS = _silver(
    "web_extracts", "Crawled pages (Firecrawl): tech stack from headers and content, social links, page stats; "
    "one row per page URL and day.",
    [Column("page_url", "string", "Lower case, no fragment, no trailing slash.", True),
     Column("domain", "string", required=True), Column("final_url", "string", "After redirects."),
     Column("status_code", "int"), Column("fetched_at", "timestamp", required=True),
     Column("crawl_age_days", "int", "dt minus the fetch day.", True), Column("is_https", "boolean"),
     Column("ssl_valid", "boolean"), Column("redirect_count", "int", required=True),
     Column("title", "string"), Column("description", "string"),
     Column("tech_stack", "string", "Detected technologies, sorted, comma-separated."),
     Column("twitter_url", "string"), Column("linkedin_url", "string"), Column("github_url", "string"),
     Column("content_length", "int", required=True), Column("word_count", "int", required=True),
     Column("link_count", "int", required=True), Column("external_link_count", "int", required=True)],
    [Upstream("bronze.firecrawl_pages")],
    [*_present("page_url"), _usable("domain"),
     RowRule("fetched_at_parsable", "fetched_at is not null", "drop"),
     RowRule("latest_fetch", "__delivery_rank = 1", "drop"),
     RowRule("status_code_readable", "status_code between 100 and 599", "warn"),
     RowRule("crawl_not_in_future", "crawl_age_days >= 0", "warn")],
    c.WEB_EXTRACTS, ("dt", "page_url"),
)

DOMAIN_HEALTH = _silver(
    "domain_health", "Per domain and day: reachability, https/ssl, redirects, crawl age and a 0-100 health score.",
    [Column("domain", "string", required=True), Column("pages_crawled", "bigint", required=True),
     Column("pages_ok", "bigint", "Pages answering 2xx.", True), Column("is_reachable", "boolean", required=True),
     Column("latest_status_code", "int"), Column("is_https", "boolean"), Column("ssl_valid", "boolean", required=True),
     Column("redirect_count", "int", required=True), Column("last_crawled_at", "timestamp", required=True),
     Column("crawl_age_days", "int", required=True),
     Column("health_score", "int", "40 reachability + 20 https + 15 ssl + 10 redirects + 15 freshness.", True)],
    [Upstream("silver.web_extracts")],
    [RowRule("health_score_in_range", "health_score between 0 and 100", "fail"),
     RowRule("pages_ok_within_crawled", "pages_ok <= pages_crawled", "fail"),
     RowRule("recently_crawled", "crawl_age_days <= 30", "warn")],
    c.DOMAIN_HEALTH, ("dt", "domain"), lineage=DT_ONLY,
)

SILVER = (APOLLO_COMPANIES, APOLLO_CONTACTS, COMPANIES, WEB_EXTRACTS, DOMAIN_HEALTH)
