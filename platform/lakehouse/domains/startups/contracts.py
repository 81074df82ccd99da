"""Pandera contracts of startups silver and gold tables, evaluated on the Spark frame before publishing.

As in commerce: keys include `dt` and are declared with `Config.unique`; `strict = True` pins the schema.
"""
from __future__ import annotations

import pandera.pyspark as pa
import pyspark.sql.types as T

DT = r"^\d{4}-\d{2}-\d{2}$"
SHA256 = r"^[0-9a-f]{64}$"
# lower case labels, dots and hyphens; at least one dot and a TLD of 2+ letters; no scheme, www or path
DOMAIN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}$"
PROVIDERS = ("crunchbase", "apollo")
SOURCES = ("crunchbase", "apollo", "crunchbase,apollo")


class _Lineage(pa.DataFrameModel):
    source_file: T.StringType() = pa.Field(nullable=True, alias="_source_file")
    line_number: T.LongType() = pa.Field(nullable=True, alias="_line_number")
    dt: T.StringType() = pa.Field(str_matches=DT)

    class Config:
        strict = True


class ApolloCompanies(_Lineage):
    company_id: T.StringType() = pa.Field()
    company_name: T.StringType() = pa.Field(nullable=True)
    domain: T.StringType() = pa.Field(str_matches=DOMAIN)
    website_url: T.StringType() = pa.Field(nullable=True)
    industry: T.StringType() = pa.Field(nullable=True)
    estimated_num_employees: T.IntegerType() = pa.Field(nullable=True, ge=0, le=5_000_000)
    annual_revenue_usd: T.DecimalType(18, 2) = pa.Field(nullable=True, ge=0)
    technologies: T.StringType() = pa.Field(nullable=True)
    founded_year: T.IntegerType() = pa.Field(nullable=True, ge=1800, le=2100)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "company_id"]


class ApolloContacts(_Lineage):
    contact_id: T.StringType() = pa.Field()
    organization_domain: T.StringType() = pa.Field(str_matches=DOMAIN)
    display_name: T.StringType() = pa.Field(nullable=True)
    title: T.StringType() = pa.Field(nullable=True)
    seniority: T.StringType() = pa.Field(nullable=True)
    departments: T.StringType() = pa.Field(nullable=True)
    email_hash: T.StringType() = pa.Field(nullable=True, str_matches=SHA256)
    # masked forms only: a local part of one character then ***, and *** then at most 4 digits
    email_masked: T.StringType() = pa.Field(nullable=True, str_matches=r"^[^@]\*\*\*@[^@]+$")
    email_domain: T.StringType() = pa.Field(nullable=True)
    phone_masked: T.StringType() = pa.Field(nullable=True, str_matches=r"^\*\*\*\d{4}$")
    has_linkedin: T.BooleanType() = pa.Field()

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "contact_id"]


class Companies(_Lineage):
    domain: T.StringType() = pa.Field(str_matches=DOMAIN)
    company_name: T.StringType() = pa.Field(nullable=True)
    company_name_source: T.StringType() = pa.Field(nullable=True, isin=list(PROVIDERS))
    website_url: T.StringType() = pa.Field(str_startswith="https://")
    founded_year: T.IntegerType() = pa.Field(nullable=True, ge=1800, le=2100)
    founded_year_source: T.StringType() = pa.Field(nullable=True, isin=list(PROVIDERS))
    country_code: T.StringType() = pa.Field(nullable=True, str_matches=r"^[A-Z]{2,3}$")
    city: T.StringType() = pa.Field(nullable=True)
    industry: T.StringType() = pa.Field(nullable=True)
    industry_source: T.StringType() = pa.Field(nullable=True, isin=list(PROVIDERS))
    categories: T.StringType() = pa.Field(nullable=True)
    employee_count: T.IntegerType() = pa.Field(nullable=True, ge=0, le=5_000_000)
    employee_count_source: T.StringType() = pa.Field(nullable=True, isin=list(PROVIDERS))
    annual_revenue_usd: T.DecimalType(18, 2) = pa.Field(nullable=True, ge=0)
    funding_total_usd: T.DecimalType(18, 2) = pa.Field(nullable=True, ge=0)
    last_funding_type: T.StringType() = pa.Field(nullable=True)
    last_funding_on: T.DateType() = pa.Field(nullable=True)
    linkedin_url: T.StringType() = pa.Field(nullable=True, str_startswith="https://www.linkedin.com/company/")
    twitter_url: T.StringType() = pa.Field(nullable=True, str_startswith="https://twitter.com/")
    technologies: T.StringType() = pa.Field(nullable=True)
    crunchbase_uuid: T.StringType() = pa.Field(nullable=True)
    apollo_id: T.StringType() = pa.Field(nullable=True)
    sources: T.StringType() = pa.Field(isin=list(SOURCES))
    first_seen_dt: T.StringType() = pa.Field(str_matches=DT)
    last_seen_dt: T.StringType() = pa.Field(str_matches=DT)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "domain"]


class WebExtracts(_Lineage):
    page_url: T.StringType() = pa.Field()
    domain: T.StringType() = pa.Field(str_matches=DOMAIN)
    final_url: T.StringType() = pa.Field(nullable=True)
    status_code: T.IntegerType() = pa.Field(nullable=True)
    fetched_at: T.TimestampType() = pa.Field()
    crawl_age_days: T.IntegerType() = pa.Field()
    is_https: T.BooleanType() = pa.Field(nullable=True)
    ssl_valid: T.BooleanType() = pa.Field(nullable=True)
    redirect_count: T.IntegerType() = pa.Field(ge=0)
    title: T.StringType() = pa.Field(nullable=True)
    description: T.StringType() = pa.Field(nullable=True)
    tech_stack: T.StringType() = pa.Field(nullable=True)
    twitter_url: T.StringType() = pa.Field(nullable=True)
    linkedin_url: T.StringType() = pa.Field(nullable=True)
    github_url: T.StringType() = pa.Field(nullable=True)
    content_length: T.IntegerType() = pa.Field(ge=0)
    word_count: T.IntegerType() = pa.Field(ge=0)
    link_count: T.IntegerType() = pa.Field(ge=0)
    external_link_count: T.IntegerType() = pa.Field(ge=0)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "page_url"]


class _Gold(pa.DataFrameModel):
    dt: T.StringType() = pa.Field(str_matches=DT)

    class Config:
        strict = True


class DomainHealth(_Gold):
    domain: T.StringType() = pa.Field(str_matches=DOMAIN)
    pages_crawled: T.LongType() = pa.Field(gt=0)
    pages_ok: T.LongType() = pa.Field(ge=0)
    is_reachable: T.BooleanType() = pa.Field()
    latest_status_code: T.IntegerType() = pa.Field(nullable=True)
    is_https: T.BooleanType() = pa.Field(nullable=True)
    ssl_valid: T.BooleanType() = pa.Field()
    redirect_count: T.IntegerType() = pa.Field(ge=0)
    last_crawled_at: T.TimestampType() = pa.Field()
    crawl_age_days: T.IntegerType() = pa.Field()
    health_score: T.IntegerType() = pa.Field(ge=0, le=100)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "domain"]


class StartupProfiles(_Gold):
    domain: T.StringType() = pa.Field(str_matches=DOMAIN)
    company_name: T.StringType() = pa.Field(nullable=True)
    website_url: T.StringType() = pa.Field()
    founded_year: T.IntegerType() = pa.Field(nullable=True, ge=1800, le=2100)
    country_code: T.StringType() = pa.Field(nullable=True)
    city: T.StringType() = pa.Field(nullable=True)
    industry: T.StringType() = pa.Field(nullable=True)
    employee_count: T.IntegerType() = pa.Field(nullable=True, ge=0)
    annual_revenue_usd: T.DecimalType(18, 2) = pa.Field(nullable=True, ge=0)
    funding_total_usd: T.DecimalType(18, 2) = pa.Field(nullable=True, ge=0)
    last_funding_type: T.StringType() = pa.Field(nullable=True)
    last_funding_on: T.DateType() = pa.Field(nullable=True)
    sources: T.StringType() = pa.Field(isin=list(SOURCES))
    tech_stack: T.StringType() = pa.Field(nullable=True)
    linkedin_url: T.StringType() = pa.Field(nullable=True)
    twitter_url: T.StringType() = pa.Field(nullable=True)
    github_url: T.StringType() = pa.Field(nullable=True)
    pages_crawled: T.LongType() = pa.Field(ge=0)
    health_score: T.IntegerType() = pa.Field(nullable=True, ge=0, le=100)
    is_reachable: T.BooleanType() = pa.Field(nullable=True)
    last_crawled_at: T.TimestampType() = pa.Field(nullable=True)
    contacts_count: T.LongType() = pa.Field(ge=0)
    decision_maker_count: T.LongType() = pa.Field(ge=0)
    completeness_score: T.IntegerType() = pa.Field(ge=0, le=100)

    class Config:
        strict = True  # Config is not inherited: each contract states it
        unique = ["dt", "domain"]
