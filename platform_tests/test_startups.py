"""Startups domain: model tests on tiny rows, the generator, and one run end to end through Dagster."""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from urllib.parse import urlparse

import pytest
from model_testing import run_model
from tables_testing import table_content

DAY, NEXT = "2024-06-03", "2024-06-04"


def bronze(dt_: str, line: int, file: str = "f", **values) -> dict:
    return {**values, "_source_file": f"{file}-{dt_}", "_line_number": line,
            "_ingested_at": "2024-06-03T23:00:00", "dt": dt_}


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# --- silver.apollo_companies: domain normalization, dedup, plausibility ----------------------------------
def test_apollo_companies_normalize_domains_and_quarantine_repeats(spark):
    run = run_model(spark, "silver.apollo_companies", {"bronze_apollo_companies": [
        bronze(DAY, 1, id="a1", name=" Acme  Labs ", primary_domain="WWW.Acme.IO", website_url="x",
               technologies='["React", " aws", "react", ""]', estimated_num_employees="1,200", founded_year="2015"),
        bronze(DAY, 2, id="a2", website_url="https://www2.Beta.co.uk/about?utm=1#top", founded_year="20150"),
        bronze(DAY, 3, id="a3", primary_domain="", website_url="HTTP://gamma.dev:8080/"),
        bronze(DAY, 4, id="a4", website_url="user@delta.ai/x", annual_revenue="$1,000.50"),
        bronze(DAY, 5, id="a5", website_url="n/a"),  # no usable domain
        bronze(DAY, 6, id=None, primary_domain="nullid.com"),
        bronze(DAY, 7, id="a1", name="Acme Labs Inc", primary_domain="acme.io"),  # a repeat: the later line wins
        bronze(DAY, 8, id="a6", primary_domain="epsilon.com", technologies="not a json array"),
    ]}, DAY)
    assert {r["company_id"]: r["domain"] for r in run.rows()} == {
        "a1": "acme.io", "a2": "beta.co.uk", "a3": "gamma.dev", "a4": "delta.ai", "a6": "epsilon.com"}
    rows = {r["company_id"]: r for r in run.rows()}
    assert rows["a1"]["company_name"] == "Acme Labs Inc" and rows["a1"]["technologies"] is None
    assert rows["a2"]["founded_year"] is None and rows["a4"]["annual_revenue_usd"] == D("1000.50")
    assert run.violations["founded_year_plausible"] == 1
    quarantined = {(q["company_id"], tuple(q["rules"])) for q in run.quarantine("company_id")}
    assert quarantined == {("a1", ("latest_delivery",)), ("a5", ("usable_domain",)), (None, ("company_id_present",))}
    first_a1 = [q for q in run.quarantine("company_id", "technologies") if q["company_id"] == "a1"][0]
    assert first_a1["technologies"] == "aws,react"  # the repeat is kept in quarantine with its values
    assert run.contract.passed, run.contract.summary()


# --- silver.apollo_contacts: PII masking with the configured salt ---------------------------------------
def test_apollo_contacts_mask_pii_with_the_configured_salt(spark, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_PII_SALT", "s3cret")
    raw_email, raw_phone = " Jane.Doe@Acme.IO ", "+1 (415) 555-0134"
    run = run_model(spark, "silver.apollo_contacts", {"bronze_apollo_contacts": [
        bronze(DAY, 1, id="c1", first_name=" jane ", last_name="doe", email=raw_email, phone=raw_phone,
               linkedin_url="https://linkedin.com/in/jane-doe", organization_domain="https://www.acme.io/",
               seniority="C Suite", departments='["Engineering", "sales"]'),
        bronze(DAY, 2, id="c2", first_name="Bo", email="not-an-email", phone="12", organization_domain="acme.io"),
        bronze(DAY, 3, id="c3", email="x@y.com", organization_domain=None),  # no organization domain
        bronze(DAY, 4, id="c4", email="x@y.com", organization_domain=""),
        bronze(DAY, 5, id="c2", first_name="Bo", email="bo@acme.io", organization_domain="acme.io"),  # repeat
    ]}, DAY)
    rows = {r["contact_id"]: r for r in run.rows()}
    jane = rows["c1"]
    assert jane["email_hash"] == hashlib.sha256(b"s3cretjane.doe@acme.io").hexdigest()
    assert (jane["email_masked"], jane["email_domain"], jane["phone_masked"]) == ("j***@acme.io", "acme.io", "***0134")
    assert (jane["display_name"], jane["organization_domain"], jane["seniority"], jane["departments"]) == (
        "Jane D.", "acme.io", "c_suite", "engineering,sales")
    assert jane["has_linkedin"] is True
    assert rows["c2"]["email_masked"] == "b***@acme.io" and rows["c2"]["phone_masked"] is None
    assert sorted((q["contact_id"], q["rules"][0]) for q in run.quarantine("contact_id")) == [
        ("c2", "latest_delivery"), ("c3", "organization_domain_usable"), ("c4", "organization_domain_usable")]
    published = json.dumps(run.valid + run.quarantined, default=str).lower()
    for secret in ("jane.doe@acme.io", "4155550134", "555-0134", "not-an-email", "doe", "linkedin.com/in"):
        assert secret not in published, secret
    assert run.contract.passed, run.contract.summary()
    # another salt, another hash: the salt is really used
    monkeypatch.setenv("LAKEHOUSE_PII_SALT", "other")
    again = run_model(spark, "silver.apollo_contacts", {"bronze_apollo_contacts": [
        bronze(DAY, 1, id="c1", email=raw_email, organization_domain="acme.io")]}, DAY)
    assert again.rows("email_hash")[0]["email_hash"] != jane["email_hash"]


# --- silver.companies: survivorship across providers and days -------------------------------------------
def _cb(dt_, line, uuid, homepage, **values):
    return bronze(dt_, line, "cb", uuid=uuid, homepage_url=homepage, **values)


def _ap(dt_, line, company_id, domain, **values):
    return {"company_id": company_id, "domain": domain, "_source_file": f"ap-{dt_}", "_line_number": line,
            "dt": dt_, **values}


COMPANY_INPUTS = {
    "bronze_crunchbase_organizations": [
        _cb(DAY, 1, "u1", "https://www.Acme.io/about", name="Acme", founded_on="2015-03-01", country_code="us",
            city=" san francisco ", category_list="SaaS, Developer Tools", funding_total_usd="$1,000,000",
            num_employees_enum="c_00011_00050", linkedin_url="https://www.linkedin.com/company/acme/",
            twitter_url="twitter.com/AcmeHQ"),
        _cb(DAY, 2, None, "nouuid.com", name="No Id"),
        _cb(DAY, 3, "u3", "n/a", name="Nowhere"),
        _cb(DAY, 0, "u1", "https://www.Acme.io/about", name="Acme (old)"),  # same uuid earlier: a repeat
        _cb(NEXT, 1, "u1", "acme.io", name="Acme Inc", founded_on="", country_code="GB",
            num_employees_enum="c_10001_max"),
    ],
    "silver_apollo_companies": [
        _ap(DAY, 1, "a1", "acme.io", company_name="ACME apollo", industry="computer software",
            estimated_num_employees=42, founded_year=2014, annual_revenue_usd="5000000.00", technologies="react"),
        _ap(DAY, 2, "a2", "beta.ai", company_name="Beta", founded_year=2020, industry="internet"),
        _ap(NEXT, 1, "a2", "beta.ai", company_name="Beta AI", industry=None, estimated_num_employees=7),
    ],
}


def test_companies_survivorship_and_quarantine(spark):
    run = run_model(spark, "silver.companies", COMPANY_INPUTS, DAY, NEXT)
    rows = {(r["dt"], r["domain"]): r for r in run.rows()}
    assert set(rows) == {(DAY, "acme.io"), (DAY, "beta.ai"), (NEXT, "acme.io"), (NEXT, "beta.ai")}
    acme1, acme2, beta2 = rows[(DAY, "acme.io")], rows[(NEXT, "acme.io")], rows[(NEXT, "beta.ai")]
    # Crunchbase wins name and founded year, Apollo wins industry and employees; single-provider fields merge
    assert (acme1["company_name"], acme1["company_name_source"], acme1["founded_year"], acme1["founded_year_source"]
            ) == ("Acme", "crunchbase", 2015, "crunchbase")
    assert (acme1["industry"], acme1["industry_source"], acme1["employee_count"], acme1["employee_count_source"]
            ) == ("computer software", "apollo", 42, "apollo")
    assert (acme1["country_code"], acme1["city"], acme1["categories"], acme1["funding_total_usd"]) == (
        "US", "San Francisco", "developer tools,saas", D("1000000.00"))
    assert (acme1["twitter_url"], acme1["linkedin_url"], acme1["sources"]) == (
        "https://twitter.com/acmehq", "https://www.linkedin.com/company/acme", "crunchbase,apollo")
    # the next day: newer Crunchbase values win, a blank founded_on does not erase the known year,
    # and Apollo's employee estimate still beats Crunchbase's newer range
    assert (acme2["company_name"], acme2["country_code"], acme2["founded_year"], acme2["employee_count"]) == (
        "Acme Inc", "GB", 2015, 42)
    assert (acme2["first_seen_dt"], acme2["last_seen_dt"]) == (DAY, NEXT)
    # Apollo only: the newer name wins, a later null industry keeps the known one
    assert (beta2["company_name"], beta2["industry"], beta2["employee_count"], beta2["founded_year"]) == (
        "Beta AI", "internet", 7, 2020)
    assert {(q["crunchbase_uuid"], tuple(q["rules"])) for q in run.quarantine("crunchbase_uuid")} == {
        ("u1", ("latest_delivery",)), ("u3", ("usable_domain",)), (None, ("provider_id_present",))}
    assert run.contract.passed, run.contract.summary()


def test_companies_day_by_day_equals_one_batch(spark):
    """The own-history merge: day 2 computed from day 1's published state equals day 2 of a 2-day batch."""
    batch = run_model(spark, "silver.companies", COMPANY_INPUTS, DAY, NEXT)
    day1 = run_model(spark, "silver.companies", COMPANY_INPUTS, DAY)
    history = [{k: v for k, v in r.items()} for r in day1.valid]
    day2 = run_model(spark, "silver.companies", {**COMPANY_INPUTS, "silver_companies": history}, NEXT)
    assert day2.rows(lineage=True) == [r for r in batch.rows(lineage=True) if r["dt"] == NEXT]
    assert day2.quarantine("crunchbase_uuid") == [q for q in batch.quarantine("crunchbase_uuid", "dt")
                                                  if q.pop("dt") == NEXT]


# --- silver.web_extracts and silver.domain_health: extraction and score edges -----------------------------
def _page(line, url, status="200", fetched="2024-06-03T10:00:00Z", ssl="true", chain="[]", **values):
    return bronze(DAY, line, "pages", url=url, status_code=status, fetched_at=fetched, ssl_valid=ssl,
                  redirect_chain=chain, **values)


def test_web_extracts_detect_tech_links_and_stats(spark):
    run = run_model(spark, "silver.web_extracts", {"bronze_firecrawl_pages": [
        _page(1, "https://www.Acme.io/", headers='{"Server": "nginx/1.25", "X-Powered-By": "Next.js"}',
              content='<script src="https://js.stripe.com/v3"></script> hello   world',
              links='["https://x.com/AcmeHQ", "https://www.linkedin.com/company/acme/", "https://acme.io/jobs",'
                    ' "https://github.com/acme", "/relative"]'),
        _page(2, "http://beta.ai/about", ssl=None, chain='["http://beta.ai/about/", "https://beta.ai/about"]',
              headers='{"server": "cloudflare", "cf-ray": "1"}', fetched="2024-06-01 08:00:00"),
        _page(3, "http://beta.ai/about#x", fetched="2024-05-31 08:00:00"),  # an earlier fetch of the same page
        _page(4, None),
        _page(5, "https://gamma.dev", fetched="soon"),
    ]}, DAY)
    rows = {r["page_url"]: r for r in run.rows()}
    acme = rows["https://www.acme.io"]
    assert (acme["domain"], acme["tech_stack"], acme["twitter_url"], acme["linkedin_url"], acme["github_url"]) == (
        "acme.io", "next.js,nginx,stripe", "https://twitter.com/acmehq", "https://www.linkedin.com/company/acme",
        "https://github.com/acme")
    assert (acme["word_count"], acme["link_count"], acme["external_link_count"], acme["is_https"]) == (4, 5, 3, True)
    beta = rows["http://beta.ai/about"]
    assert (beta["tech_stack"], beta["redirect_count"], beta["final_url"], beta["is_https"], beta["crawl_age_days"]
            ) == ("cloudflare", 2, "https://beta.ai/about", True, 2)
    assert sorted(tuple(q["rules"]) for q in run.quarantine("page_url")) == [
        ("fetched_at_parsable",), ("latest_fetch",), ("page_url_present", "usable_domain")]
    assert run.contract.passed, run.contract.summary()


def _we(url, domain, status=200, age=0, https=True, ssl=True, redirects=0, dt_=DAY):
    fetched = dt.datetime.fromisoformat(dt_) + dt.timedelta(hours=12) - dt.timedelta(days=age)
    return {"page_url": url, "domain": domain, "status_code": status, "fetched_at": fetched.isoformat(),
            "crawl_age_days": age, "is_https": https, "ssl_valid": ssl, "redirect_count": redirects, "dt": dt_}


def test_domain_health_score_edges(spark):
    run = run_model(spark, "silver.domain_health", {"silver_web_extracts": [
        _we("https://best.io", "best.io"),                                                # 40+20+15+10+15
        _we("http://worst.io", "worst.io", status=503, age=40, https=False, ssl=None, redirects=3),  # 0
        _we("https://mid.io/a", "mid.io", status=404, age=3, redirects=2),                # older fetch
        _we("https://mid.io/b", "mid.io", status=200, age=2, ssl=False, redirects=2),     # latest fetch
    ]}, DAY)
    scores = {r["domain"]: (r["health_score"], r["is_reachable"], r["pages_ok"], r["crawl_age_days"])
              for r in run.rows()}
    # mid: 40 x 1/2 reachable + 20 https + 0 ssl (invalid) + 5 (2 hops) + 10 (2 days old) = 55
    assert scores == {"best.io": (100, True, 1, 0), "worst.io": (0, False, 0, 40), "mid.io": (55, True, 1, 2)}
    assert run.violations["recently_crawled"] == 1 and not run.failed_rules
    assert run.contract.passed, run.contract.summary()


# --- gold.startup_profiles: the join and the completeness score ------------------------------------------
def test_startup_profiles_join_signals_and_score_completeness(spark):
    full = {"domain": "acme.io", "company_name": "Acme", "website_url": "https://acme.io", "founded_year": 2015,
            "country_code": "US", "industry": "saas", "employee_count": 40, "funding_total_usd": "100.00",
            "twitter_url": "https://twitter.com/acme", "technologies": "react", "sources": "crunchbase,apollo",
            "first_seen_dt": DAY, "last_seen_dt": DAY, "dt": NEXT}
    bare = {"domain": "bare.io", "website_url": "https://bare.io", "apollo_id": "a9", "sources": "apollo",
            "first_seen_dt": DAY, "last_seen_dt": DAY, "dt": NEXT}
    run = run_model(spark, "gold.startup_profiles", {
        "silver_companies": [full, bare],
        "silver_domain_health": [{"domain": "acme.io", "health_score": 80, "is_reachable": True, "dt": DAY},
                                 {"domain": "acme.io", "health_score": 90, "is_reachable": True, "dt": NEXT},
                                 {"domain": "bare.io", "health_score": 70, "dt": "2024-04-01"}],  # too old
        "silver_web_extracts": [{**_we("https://acme.io", "acme.io", dt_=DAY), "tech_stack": "nginx,react",
                                 "linkedin_url": "https://www.linkedin.com/company/acme"}],
        "silver_apollo_contacts": [
            {"contact_id": "c1", "organization_domain": "acme.io", "seniority": "founder", "dt": DAY},
            {"contact_id": "c1", "organization_domain": "acme.io", "seniority": "founder", "dt": NEXT},
            {"contact_id": "c2", "organization_domain": "acme.io", "seniority": "entry", "dt": NEXT}],
    }, NEXT)
    rows = {r["domain"]: r for r in run.rows()}
    acme, bare_row = rows["acme.io"], rows["bare.io"]
    assert (acme["health_score"], acme["tech_stack"], acme["contacts_count"], acme["decision_maker_count"]) == (
        90, "nginx,react", 2, 1)
    assert (acme["twitter_url"], acme["linkedin_url"], acme["pages_crawled"]) == (
        "https://twitter.com/acme", "https://www.linkedin.com/company/acme", 1)
    assert acme["completeness_score"] == 100
    assert (bare_row["completeness_score"], bare_row["health_score"], bare_row["contacts_count"]) == (0, None, 0)
    assert run.contract.passed, run.contract.summary()


# --- the generator -----------------------------------------------------------------------------------------
def _bytes(uris) -> dict[str, bytes]:
    return {u.split("/landing/", 1)[1]: Path(urlparse(u).path).read_bytes() for u in uris}


def _text(key: str, payload: bytes) -> str:
    return (gzip.decompress(payload) if key.endswith(".gz") else payload).decode()


def test_generator_is_deterministic_and_dirty(lakehouse_env, tmp_path):
    from lakehouse.dev.generate import DOMAINS
    from lakehouse.dev.generate.startups import land_startups
    from lakehouse.ingest.readers import read_landing_partition
    from lakehouse.pipeline.registry import get_spec

    assert DOMAINS["startups"] is land_startups
    first = _bytes(land_startups(lakehouse_env, date(2024, 6, 3), 2, 60, 11))
    again = _bytes(land_startups(lakehouse_env, date(2024, 6, 3), 2, 60, 11))
    assert first == again and len(first) == 8
    other = _bytes(land_startups(lakehouse_env.with_(landing=(tmp_path / "o" / "landing").as_uri()),
                                 date(2024, 6, 3), 2, 60, 12))
    assert other.keys() == first.keys() and all(other[k] != first[k] for k in first)

    texts = {k: _text(k, v) for k, v in first.items()}
    everything = "\n".join(texts.values())
    assert "http://" in everything and "www." in everything and "/?utm_source" in everything  # messy URLs
    assert any("rank_org" in t.splitlines()[0] for k, t in texts.items() if k.endswith(".csv"))  # drift
    assert '"keywords"' in everything
    for key, text in texts.items():
        lines = [line for line in text.splitlines()[(1 if key.endswith(".csv") else 0):] if line]
        assert len(lines) > len(set(lines)), f"{key} has no re-sent line"
    quarantined = 0
    for table in ("bronze.crunchbase_organizations", "bronze.apollo_companies", "bronze.apollo_contacts",
                  "bronze.firecrawl_pages"):
        for day in ("2024-06-03", "2024-06-04"):
            result = read_landing_partition(lakehouse_env, get_spec(table), day)
            quarantined += result.quarantine.num_rows
            assert result.table.num_rows > 0
    assert quarantined > 0  # truncated CSV lines and cut-off JSON lines


# --- end to end ----------------------------------------------------------------------------------------------


def _quarantines(table: str) -> bool:
    """Bronze quarantines unreadable lines; models quarantine what their drop rules catch."""
    from lakehouse.pipeline.registry import get_spec

    spec = get_spec(table)
    return spec.layer == "bronze" or any(r.severity == "drop" for r in spec.rules)


def _raw_pii(uris) -> set[str]:
    """Every raw email and phone string of the landed contact files (as sent and as trimmed/lower-cased)."""
    values: set[str] = set()
    for key, payload in _bytes(uris).items():
        if "/contacts/" not in key:
            continue
        for line in _text(key, payload).splitlines():
            for field in ("email", "phone"):
                marker = f'"{field}": "'
                at = line.find(marker)
                if at >= 0:
                    raw = line[at + len(marker):].split('"', 1)[0]
                    if len(raw.strip()) >= 6:
                        values.update({raw, raw.strip().lower()})
                        if field == "phone":
                            values.add("".join(ch for ch in raw if ch.isdigit()))
    return values


@pytest.mark.slow
def test_startups_end_to_end(lakehouse_env):
    from dagster import DagsterInstance

    from lakehouse.definitions import build_definitions
    from lakehouse.dev.generate.startups import land_startups
    from lakehouse.pipeline.registry import specs_in
    from lakehouse.runs import materialize_range

    uris = land_startups(lakehouse_env, date.fromisoformat(DAY), 2, 20, 7)
    defs = build_definitions()
    instance = DagsterInstance.ephemeral()
    run = materialize_range(defs, DAY, NEXT, instance=instance, domain="startups", log_level="WARNING")
    assert run.success, run.failures()
    for table, checks in run.check_results().items():
        assert all(checks.values()), (table, checks)

    tables = [s.id for s in specs_in(domain="startups")]
    accounting = {}
    for result in run.results:
        for ev in result.get_asset_materialization_events():
            meta = ev.event_specific_data.materialization.metadata
            if "rows_in" in meta:
                accounting[".".join(ev.asset_key.path)] = (
                    meta["rows_in"].value, meta["rows_published"].value, meta["rows_quarantined"].value)
    assert set(accounting) == set(tables)  # bronze too: each partition reports its own numbers
    for table, (rows_in, published, quarantined) in accounting.items():
        assert rows_in == published + quarantined, table
        assert published > 0, table
    assert sum(q for _, _, q in accounting.values()) > 0

    # PII never beyond bronze: no raw email or phone in any silver/gold table or their quarantines
    secrets = _raw_pii(uris)
    assert len(secrets) > 20
    for table in tables:
        if table.startswith("bronze."):
            continue
        stores = [table_content(table)] + ([table_content(table, quarantine=True)] if _quarantines(table) else [])
        text = "\n".join(json.dumps(t.to_pylist(), default=str) for t in stores).lower()
        leaked = [s for s in secrets if s.lower() in text]
        assert not leaked, (table, leaked[:3])

    profiles = table_content("gold.startup_profiles").to_pylist()
    assert {r["dt"] for r in profiles} == {DAY, NEXT}
    assert 0 < max(r["completeness_score"] for r in profiles) <= 100
    assert any(r["health_score"] is not None for r in profiles) and any(r["contacts_count"] for r in profiles)

    # re-running a day leaves every startups table (and quarantine) exactly as it was
    before = {t: (table_content(t), table_content(t, quarantine=_quarantines(t))) for t in tables}
    rerun = materialize_range(defs, NEXT, NEXT, instance=instance, domain="startups", log_level="WARNING")
    assert rerun.success, rerun.failures()
    for table, (rows, quarantined) in before.items():
        assert table_content(table).equals(rows), table
        if _quarantines(table):
            assert table_content(table, quarantine=True).equals(quarantined), table
