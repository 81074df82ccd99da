"""Deterministic, deliberately dirty startups sample data: Crunchbase, Apollo and Firecrawl exports.

`land_startups(settings, start, days, rows, seed)` writes, for every day, one file per entity under
`<landing>/<source>/<entity>/dt=YYYY-MM-DD/`:

    crunchbase/organizations  organizations_YYYYMMDD.csv      about `rows` organizations
    apollo/companies          companies_YYYYMMDD.jsonl        about `rows` companies
    apollo/contacts           contacts_YYYYMMDD.jsonl         about `rows` contacts (2 per company of half the sample)
    firecrawl/pages           pages_YYYYMMDD.jsonl.gz         1-3 pages for about rows/2 domains

A file is a pure function of (seed, entity, day, rows): same arguments -> byte-identical files under the same
names. Companies come from a fixed universe of about 1.25 x rows per seed (constants per company from
`random.Random(f"{seed}:company:{i}")`); each day samples it, so providers overlap partly and days repeat
companies, which is what survivorship is about.

Dirt (rates in DIRT): duplicate lines, null ids, companies without a usable homepage ("", "n/a"), URLs with
schemes, www, paths, query strings, ports and trailing slashes in mixed case; casing and whitespace in names,
cities and country codes; funding as "$1,200,000"; founded_on as "2015", "2015-03-01" or "03/01/2015"; a
typo'd founded_year (20150); employee counts as "1,200"; truncated CSV lines, cut-off JSON lines; contacts
without an organization domain and with messy emails and phone formats; pages fetched days before the
delivery day (late) or weeks before (stale), failed fetches (404/500/503), http without TLS, invalid
certificates, redirect chains, unparsable fetched_at; schema drift: an extra `rank_org` column in the Crunchbase
file on odd days (by ordinal) and an extra `keywords` field in Apollo companies on even days.
"""
from __future__ import annotations

import gzip
import random
from datetime import date, datetime, timedelta, timezone

from lakehouse.config import Settings
from lakehouse.dev.generate.files import csv_bytes, jsonl_bytes, write_landing

PREFIXES = ("nova", "quant", "bright", "hyper", "cloud", "deep", "blue", "flux", "orbit", "pixel", "stack",
            "neuro", "atlas", "vector", "lumen", "terra", "swift", "kite", "echo", "zen")
SUFFIXES = ("labs", "ai", "works", "hq", "base", "flow", "grid", "mind", "forge", "loop", "scale", "path")
TLDS = ("com", "io", "ai", "co", "dev", "app", "co.uk", "de")
PLACES = (("US", "San Francisco"), ("US", "New York"), ("GB", "London"), ("DE", "Berlin"), ("FR", "Paris"),
          ("IN", "Bangalore"), ("SG", "Singapore"), ("CA", "Toronto"), ("IL", "Tel Aviv"), ("SE", "Stockholm"))
CATEGORIES = ("Software", "SaaS", "Artificial Intelligence", "FinTech", "Health Care", "E-Commerce",
              "Developer Tools", "Cyber Security", "Marketplace", "Analytics")
INDUSTRIES = ("computer software", "information technology & services", "financial services",
              "hospital & health care", "internet", "computer & network security", "marketing & advertising")
FUNDING_TYPES = ("seed", "pre_seed", "series_a", "series_b", "series_c", "angel", "Series A", "venture")
EMPLOYEE_ENUMS = ("c_00001_00010", "c_00011_00050", "c_00051_00100", "c_00101_00250", "c_00251_00500",
                  "c_00501_01000", "c_01001_05000", "c_10001_max")
TECHS = ("React", "Node.js", "AWS", "Google Analytics", "HubSpot", "Stripe", "Segment", "Intercom", "Python",
         "Cloudflare", "Salesforce", "Shopify")
FIRST = ("Ana", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena",
         "Maya", "Noah", "Olga", "Priya")
LAST = ("Smith", "Müller", "García", "Tanaka", "Okafor", "Rossi", "Dubois", "Silva", "Kim", "Novak", "Cohen")
TITLES = (("Founder & CEO", "founder"), ("CTO", "c_suite"), ("VP Engineering", "vp"), ("Head of Sales", "head"),
          ("Director of Marketing", "director"), ("Software Engineer", "entry"), ("Account Executive", "senior"),
          ("Product Manager", "manager"))
DEPARTMENTS = ("engineering", "sales", "marketing", "executive", "product", "operations")
SERVERS = ("nginx", "cloudflare", "Vercel", "Apache/2.4.57", "netlify", "AmazonS3")
POWERED = (None, None, "Express", "Next.js", "PHP/8.2")
CONTENT_MARKERS = ('<script src="https://www.googletagmanager.com/gtag/js"></script>',
                   '<script src="https://js.stripe.com/v3"></script>', '<div id="__next"><script src="/_next/app.js">',
                   '<link href="/wp-content/themes/site.css">', '<script src="https://js.hs-scripts.com/1.js"></script>',
                   '<script src="https://widget.intercom.io/widget/x"></script>', '<div data-reactroot="">',
                   '<script src="https://cdn.shopify.com/s/app.js"></script>')
PAGE_PATHS = ("", "/about", "/pricing")

CRUNCHBASE_COLUMNS = ["uuid", "name", "homepage_url", "founded_on", "country_code", "city", "category_list",
                      "funding_total_usd", "last_funding_type", "last_funding_on", "num_employees_enum",
                      "linkedin_url", "twitter_url"]

DIRT = {
    "duplicate": 0.03, "null_id": 0.02, "no_homepage": 0.03, "truncated_line": 0.01, "invalid_json": 0.02,
    "messy_text": 0.06, "year_typo": 0.02, "contact_no_domain": 0.04, "page_late": 0.15, "page_stale": 0.08,
    "page_bad_time": 0.02, "page_null_url": 0.02,
}


# ------------------------------------------------------------------------------------------------ helpers

def _rng(seed: int, entity: str, day: date) -> random.Random:
    return random.Random(f"{seed}:{entity}:{day.isoformat()}")


def _pick_few(rng: random.Random, n: int, rate: float) -> list[int]:
    """About n * rate distinct indexes (rounded at random, so small files get dirt sometimes)."""
    k = int(n * rate + rng.random())
    return sorted(rng.sample(range(n), min(n, k))) if n else []


def _messy(rng: random.Random, text: str | None) -> str | None:
    if text is None:
        return None
    roll = rng.random()
    if roll < DIRT["messy_text"] / 2:
        return text.upper()
    if roll < DIRT["messy_text"]:
        return f"  {text.lower()} "
    return text


def _url_variant(rng: random.Random, domain: str) -> str:
    """The same domain the ways exports spell it: scheme or not, www or not, paths, queries, case, slashes."""
    host = ("www." if rng.random() < 0.5 else "") + domain
    scheme = rng.choice(("https://", "https://", "http://", "", "HTTPS://"))
    tail = rng.choice(("", "", "/", "/about", "/?utm_source=crunchbase", ":443/", "/en/home#top"))
    url = f"{scheme}{host}{tail}"
    return url.upper() if rng.random() < 0.1 else url


# ------------------------------------------------------------------------------------------------ universe

def _universe_size(rows: int) -> int:
    return max(12, rows + rows // 4)


def _company(seed: int, i: int) -> dict:
    """The true facts of company i for a seed (what every provider describes, each in its own way)."""
    rng = random.Random(f"{seed}:company:{i}")
    prefix, suffix = PREFIXES[i % len(PREFIXES)], SUFFIXES[(i // len(PREFIXES)) % len(SUFFIXES)]
    lap = i // (len(PREFIXES) * len(SUFFIXES))
    slug = f"{prefix}{suffix}{lap if lap else ''}"
    country, city = rng.choice(PLACES)
    founded = date(rng.randint(1998, 2023), rng.randint(1, 12), rng.randint(1, 28))
    enum_i = min(len(EMPLOYEE_ENUMS) - 1, int(rng.expovariate(0.7)))
    return {
        "i": i, "slug": slug, "name": f"{prefix.title()}{suffix.title()}{f' {lap}' if lap else ''}",
        "domain": f"{slug}.{rng.choice(TLDS)}", "uuid": f"{random.Random(f'{seed}:uuid:{i}').getrandbits(128):032x}",
        "apollo_id": f"{random.Random(f'{seed}:apollo:{i}').getrandbits(96):024x}",
        "founded": founded, "country": country, "city": city,
        "categories": rng.sample(CATEGORIES, rng.randint(1, 3)), "industry": rng.choice(INDUSTRIES),
        "funding": rng.choice((None, rng.randrange(100, 50_000) * 1000)), "funding_type": rng.choice(FUNDING_TYPES),
        "funding_on": min(founded + timedelta(days=rng.randint(100, 2500)), date(2023, 12, 31)), "employees_enum": EMPLOYEE_ENUMS[enum_i],
        "employees": rng.randint(3, 12) * (10 ** min(enum_i, 4)) // 3 + 2, "revenue": rng.randrange(1, 900) * 100_000,
        "techs": rng.sample(TECHS, rng.randint(0, 5)), "has_twitter": rng.random() < 0.7,
        "has_linkedin": rng.random() < 0.8, "server": rng.choice(SERVERS), "powered": rng.choice(POWERED),
        "markers": rng.sample(CONTENT_MARKERS, rng.randint(0, 3)), "https": rng.random() < 0.9,
        "ssl_ok": rng.random() < 0.9, "redirects": rng.choice((0, 0, 0, 1, 1, 2, 3)), "flaky": rng.random() < 0.15,
    }


def _sample(seed: int, entity: str, day: date, rows: int, k: int) -> list[dict]:
    rng = _rng(seed, f"{entity}-sample", day)
    n = _universe_size(rows)
    return [_company(seed, i) for i in sorted(rng.sample(range(n), min(n, k)))]


# ------------------------------------------------------------------------------------------------ entities

def _crunchbase(seed: int, day: date, rows: int) -> tuple[list[str], list[list], list[int]]:
    rng = _rng(seed, "crunchbase", day)
    drift = day.toordinal() % 2 == 1
    header = CRUNCHBASE_COLUMNS + (["rank_org"] if drift else [])
    out = []
    for co in _sample(seed, "crunchbase", day, rows, rows):
        founded = co["founded"]
        founded_on = rng.choice((founded.isoformat(), founded.isoformat(), str(founded.year),
                                 founded.strftime("%m/%d/%Y"), ""))
        funding = co["funding"]
        funding_text = "" if funding is None else (f"${funding:,}" if rng.random() < 0.2 else str(funding))
        country = co["country"].lower() if rng.random() < 0.05 else co["country"]
        row = [co["uuid"], _messy(rng, co["name"]), _url_variant(rng, co["domain"]), founded_on, country,
               _messy(rng, co["city"]), ", ".join(co["categories"]) if rng.random() > 0.05 else "",
               funding_text, co["funding_type"] if funding else "", co["funding_on"].isoformat() if funding else "",
               co["employees_enum"] if rng.random() > 0.1 else "",
               f"https://www.linkedin.com/company/{co['slug']}/" if co["has_linkedin"] else "",
               f"https://twitter.com/{co['slug']}" if co["has_twitter"] else ""]
        if drift:
            row.append(rng.randint(1, 500_000))
        out.append(row)
    for i in _pick_few(rng, len(out), DIRT["no_homepage"]):
        out[i][2] = rng.choice(("", "n/a", "localhost"))
    for i in _pick_few(rng, len(out), DIRT["null_id"]):
        out[i][0] = ""
    out += [list(out[i]) for i in _pick_few(rng, len(out), DIRT["duplicate"])]  # re-sent lines
    return header, out, _pick_few(rng, len(out), DIRT["truncated_line"])


def _apollo_companies(seed: int, day: date, rows: int) -> tuple[list[dict], list[int]]:
    rng = _rng(seed, "apollo-companies", day)
    out = []
    for co in _sample(seed, "apollo-companies", day, rows, rows):
        primary = rng.choice((co["domain"], co["domain"], f"WWW.{co['domain'].upper()}", None))
        record = {
            "id": co["apollo_id"], "name": _messy(rng, co["name"]), "website_url": _url_variant(rng, co["domain"]),
            "primary_domain": primary, "industry": _messy(rng, co["industry"]),
            "estimated_num_employees": f"{co['employees']:,}" if rng.random() < 0.1 else co["employees"],
            "annual_revenue": co["revenue"] if rng.random() > 0.3 else None,
            "technologies": [t.upper() if rng.random() < 0.1 else t for t in co["techs"]],
            "founded_year": co["founded"].year if rng.random() > 0.2 else None,
        }
        if day.toordinal() % 2 == 0:  # schema drift: a field nobody declared
            record["keywords"] = rng.sample(("b2b", "saas", "api", "platform", "ml"), 2)
        out.append(record)
    for i in _pick_few(rng, len(out), DIRT["year_typo"]):
        out[i]["founded_year"] = int(f"{out[i]['founded_year'] or 2015}0")
    for i in _pick_few(rng, len(out), DIRT["no_homepage"]):
        out[i]["primary_domain"], out[i]["website_url"] = None, rng.choice(("", "n/a"))
    for i in _pick_few(rng, len(out), DIRT["null_id"]):
        out[i]["id"] = None
    out += [dict(out[i]) for i in _pick_few(rng, len(out), DIRT["duplicate"])]
    return out, _pick_few(rng, len(out), DIRT["invalid_json"])


def _phone(rng: random.Random, digits: str) -> str:
    return rng.choice((f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"+1{digits}", f"{digits[:3]}.{digits[3:6]}."
                       f"{digits[6:]}", f"+44 20 {digits[2:6]} {digits[6:]}"))


def _contacts(seed: int, day: date, rows: int) -> tuple[list[dict], list[int]]:
    rng = _rng(seed, "apollo-contacts", day)
    out = []
    for co in _sample(seed, "apollo-contacts", day, rows, max(3, rows // 2)):
        for k in range(2):
            person = random.Random(f"{seed}:person:{co['i']}:{k}")
            first, last = person.choice(FIRST), person.choice(LAST)
            title, seniority = person.choice(TITLES)
            digits = f"{person.randrange(200, 999)}{person.randrange(200, 999)}{person.randrange(1000, 9999)}"
            email = f"{first}.{last}@{co['domain']}".lower().replace("ü", "u").replace("í", "i")
            out.append({
                "id": f"ct-{co['i']:05d}-{k}", "first_name": _messy(rng, first), "last_name": _messy(rng, last),
                "title": title, "email": _messy(rng, email) if rng.random() > 0.1 else None,
                "phone": _phone(rng, digits) if rng.random() > 0.2 else None,
                "linkedin_url": f"https://www.linkedin.com/in/{first}-{last}-{digits[-4:]}".lower()
                if rng.random() < 0.6 else None,
                "organization_domain": rng.choice((co["domain"], co["domain"], f"https://www.{co['domain']}/")),
                "seniority": _messy(rng, seniority), "departments": person.sample(DEPARTMENTS, person.randint(0, 2)),
            })
    for i in _pick_few(rng, len(out), DIRT["contact_no_domain"]):
        out[i]["organization_domain"] = rng.choice((None, ""))
    for i in _pick_few(rng, len(out), DIRT["null_id"]):
        out[i]["id"] = None
    out += [dict(out[i]) for i in _pick_few(rng, len(out), DIRT["duplicate"])]
    return out, _pick_few(rng, len(out), DIRT["invalid_json"])


def _fetched_at(rng: random.Random, day: date) -> str:
    roll = rng.random()
    back = rng.randint(10, 40) if roll < DIRT["page_stale"] else rng.randint(1, 2) if roll < DIRT["page_late"] else 0
    moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - timedelta(days=back)
    moment += timedelta(seconds=rng.randrange(3600, 79200))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if rng.random() < 0.7 else moment.strftime("%Y-%m-%d %H:%M:%S")


def _pages(seed: int, day: date, rows: int) -> tuple[list[dict], list[int]]:
    rng = _rng(seed, "firecrawl", day)
    out = []
    for co in _sample(seed, "firecrawl", day, rows, max(3, rows // 2)):
        scheme = "https" if co["https"] else "http"
        base = f"{scheme}://{'www.' if rng.random() < 0.5 else ''}{co['domain']}"
        for path in PAGE_PATHS[: rng.randint(1, 3)]:
            status = rng.choice((404, 500, 503)) if co["flaky"] and rng.random() < 0.6 else 200
            # the hops followed, the last one being the final URL (redirects upgrade to https on the bare domain)
            chain = [f"https://{co['domain']}{path or '/'}" + (f"?hop={h}" if h < co["redirects"] - 1 else "")
                     for h in range(co["redirects"])]
            headers = {"Server": co["server"], "Content-Type": "text/html; charset=utf-8"}
            if co["powered"]:
                headers["X-Powered-By"] = co["powered"]
            if co["server"] == "cloudflare":
                headers["CF-RAY"] = f"{rng.getrandbits(32):08x}-FRA"
            links = [f"https://{co['domain']}/careers", "https://example.org/partner"]
            if co["has_twitter"]:
                links.append(f"https://x.com/{co['slug']}")
            if co["has_linkedin"]:
                links.append(f"https://www.linkedin.com/company/{co['slug']}/")
            if rng.random() < 0.3:
                links.append(f"https://github.com/{co['slug']}")
            content = " ".join([f"<html><head><title>{co['name']}</title>", *co["markers"],
                                f"<body><h1>{co['name']}</h1><p>{co['name']} builds "
                                f"{co['categories'][0].lower()} for teams.</p></body></html>"]) if status == 200 else ""
            out.append({
                "url": f"{base}{path}" + ("/" if rng.random() < 0.3 else ""),
                "status_code": status, "fetched_at": _fetched_at(rng, day),
                "title": f"  {co['name']} | {path.strip('/').title() or 'Home'}" if status == 200 else None,
                "description": f"{co['name']}: {co['categories'][0]}" if status == 200 else None,
                "content": content, "links": links if status == 200 else [], "headers": headers,
                "ssl_valid": (co["ssl_ok"] if rng.random() < 0.8 else str(co["ssl_ok"]).lower()) if co["https"]
                else None,
                "redirect_chain": chain,
            })
    for i in _pick_few(rng, len(out), DIRT["page_bad_time"]):
        out[i]["fetched_at"] = "yesterday-ish"
    for i in _pick_few(rng, len(out), DIRT["page_null_url"]):
        out[i]["url"] = None
    out += [dict(out[i]) for i in _pick_few(rng, len(out), DIRT["duplicate"])]  # the crawler fetched it twice
    return out, _pick_few(rng, len(out), DIRT["invalid_json"])


# ------------------------------------------------------------------------------------------------- writing

def land_startups(settings: Settings, start: date, days: int, rows: int, seed: int) -> list[str]:
    """Write `days` days of startups landing files starting at `start` (about `rows` companies per provider
    a day); returns the URIs written, in writing order."""
    if days < 0 or rows < 0:
        raise ValueError("days and rows must not be negative")
    written = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        stamp, part = f"{day:%Y%m%d}", f"dt={day.isoformat()}"
        header, organizations, cut = _crunchbase(seed, day, rows)
        written.append(write_landing(settings, f"crunchbase/organizations/{part}/organizations_{stamp}.csv",
                              csv_bytes(header, organizations, cut)))
        companies, broken = _apollo_companies(seed, day, rows)
        written.append(write_landing(settings, f"apollo/companies/{part}/companies_{stamp}.jsonl",
                              jsonl_bytes(companies, broken)))
        contacts, broken = _contacts(seed, day, rows)
        written.append(write_landing(settings, f"apollo/contacts/{part}/contacts_{stamp}.jsonl", jsonl_bytes(contacts, broken)))
        pages, broken = _pages(seed, day, rows)
        written.append(write_landing(settings, f"firecrawl/pages/{part}/pages_{stamp}.jsonl.gz",
                              gzip.compress(jsonl_bytes(pages, broken), mtime=0)))
    return written
