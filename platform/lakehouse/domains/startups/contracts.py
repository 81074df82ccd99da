"""Value checks of the startups silver and gold contracts, per column (see quality.contracts.contract_schema).

As in commerce: columns, types, nullability and keys come from the table specs.
"""
from __future__ import annotations

from lakehouse.model.spec import DT

SHA256 = r"^[0-9a-f]{64}$"
# lower case labels, dots and hyphens; at least one dot and a TLD of 2+ letters; no scheme, www or path
DOMAIN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}$"
PROVIDERS = ("crunchbase", "apollo")
SOURCES = ("crunchbase", "apollo", "crunchbase,apollo")


APOLLO_COMPANIES = {
    "domain": dict(str_matches=DOMAIN),
    "estimated_num_employees": dict(ge=0, le=5_000_000),
    "annual_revenue_usd": dict(ge=0),
    "founded_year": dict(ge=1800, le=2100),
}

APOLLO_CONTACTS = {
    "organization_domain": dict(str_matches=DOMAIN),
    "email_hash": dict(str_matches=SHA256),
    # masked forms only: a local part of one character then ***, and *** then at most 4 digits
    "email_masked": dict(str_matches=r"^[^@]\*\*\*@[^@]+$"),
    "phone_masked": dict(str_matches=r"^\*\*\*\d{4}$"),
}

COMPANIES = {
    "domain": dict(str_matches=DOMAIN),
    "company_name_source": dict(isin=list(PROVIDERS)),
    "website_url": dict(str_startswith="https://"),
    "founded_year": dict(ge=1800, le=2100),
    "founded_year_source": dict(isin=list(PROVIDERS)),
    "country_code": dict(str_matches=r"^[A-Z]{2,3}$"),
    "industry_source": dict(isin=list(PROVIDERS)),
    "employee_count": dict(ge=0, le=5_000_000),
    "employee_count_source": dict(isin=list(PROVIDERS)),
    "annual_revenue_usd": dict(ge=0),
    "funding_total_usd": dict(ge=0),
    "linkedin_url": dict(str_startswith="https://www.linkedin.com/company/"),
    "twitter_url": dict(str_startswith="https://twitter.com/"),
    "sources": dict(isin=list(SOURCES)),
    "first_seen_dt": dict(str_matches=DT),
    "last_seen_dt": dict(str_matches=DT),
}

WEB_EXTRACTS = {
    "domain": dict(str_matches=DOMAIN),
    "redirect_count": dict(ge=0),
    "content_length": dict(ge=0),
    "word_count": dict(ge=0),
    "link_count": dict(ge=0),
    "external_link_count": dict(ge=0),
}

DOMAIN_HEALTH = {
    "domain": dict(str_matches=DOMAIN),
    "pages_crawled": dict(gt=0),
    "pages_ok": dict(ge=0),
    "redirect_count": dict(ge=0),
    "health_score": dict(ge=0, le=100),
}

STARTUP_PROFILES = {
    "domain": dict(str_matches=DOMAIN),
    "founded_year": dict(ge=1800, le=2100),
    "employee_count": dict(ge=0),
    "annual_revenue_usd": dict(ge=0),
    "funding_total_usd": dict(ge=0),
    "sources": dict(isin=list(SOURCES)),
    "pages_crawled": dict(ge=0),
    "health_score": dict(ge=0, le=100),
    "contacts_count": dict(ge=0),
    "decision_maker_count": dict(ge=0),
    "completeness_score": dict(ge=0, le=100),
}
