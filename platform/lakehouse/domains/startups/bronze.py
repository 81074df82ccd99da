"""Startups landing entities: every row kept as received (strings; JSON arrays/objects as JSON text),
plus the lineage columns added at ingest."""
from __future__ import annotations

from functools import partial

from lakehouse.model.declare import landed
from lakehouse.model.declare import strings as _cols

_bronze = partial(landed, "startups")


CRUNCHBASE_ORGANIZATIONS = _bronze(
    "crunchbase_organizations", "crunchbase", "organizations", "csv",
    "Crunchbase organization export (CSV), as received.",
    _cols("uuid", "name", "homepage_url", "founded_on", "country_code", "city", "category_list",
          "funding_total_usd", "last_funding_type", "last_funding_on", "num_employees_enum", "linkedin_url",
          "twitter_url", required=("uuid",)),
)

APOLLO_COMPANIES = _bronze(
    "apollo_companies", "apollo", "companies", "jsonl", "Apollo company records (JSON Lines), as received.",
    _cols("id", "name", "website_url", "primary_domain", "industry", "estimated_num_employees", "annual_revenue",
          "technologies", "founded_year", required=("id",)),
)

# Raw personal data lives here and nowhere else: silver keeps only salted hashes and masked forms.
APOLLO_CONTACTS = _bronze(
    "apollo_contacts", "apollo", "contacts", "jsonl", "Apollo contacts (JSON Lines), as received. Holds raw PII.",
    _cols("id", "first_name", "last_name", "title", "email", "phone", "linkedin_url", "organization_domain",
          "seniority", "departments", required=("id",)),
    pii=("first_name", "last_name", "email", "phone", "linkedin_url"),
)

FIRECRAWL_PAGES = _bronze(
    "firecrawl_pages", "firecrawl", "pages", "jsonl", "Pages crawled by Firecrawl (gzip JSON Lines), as received.",
    _cols("url", "status_code", "fetched_at", "title", "description", "content", "links", "headers", "ssl_valid",
          "redirect_chain", required=("url",)),
)

BRONZE = (CRUNCHBASE_ORGANIZATIONS, APOLLO_COMPANIES, APOLLO_CONTACTS, FIRECRAWL_PAGES)
