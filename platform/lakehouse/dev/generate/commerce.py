"""Deterministic, deliberately dirty commerce sample data, landed exactly as real exports would be.

`land_commerce(settings, start, days, rows, seed)` writes, for every day, one file per entity under
`<landing>/<source>/<entity>/dt=YYYY-MM-DD/`. A file is a pure function of (seed, entity, day, rows) plus, for
the customer feed only, whether the day is `start` (the first day of a landing is the initial full load of the
customer table; later days are the change feed). Same arguments -> byte-identical files under the same names,
so re-landing overwrites. Random numbers come from `random.Random` seeded per (seed, entity, day); per
customer constants from a CRC of (seed, customer id).

Volumes for `rows` = R orders a day: customers R/2 in the initial load, then a change feed of about R/5 a day
(material changes of email or country, no-op updates, new signups); products a 50-item full snapshot;
FX rates for 10 currencies (EUR, GBP, CHF, SEK publish on weekdays only); CRM contacts R/20 and deals R/40
in the CRM API's nested shape; clickstream about 5 R events a day (gzip JSON Lines), a funnel from
page_view to purchase with falling counts.

Referential sanity, so joins downstream produce data: orders pick customers from the initial load or that
day's signups (both in the feed of a landed day), products from that day's snapshot, and currencies that
have FX rates (on weekends EUR/GBP/CHF/SEK orders resolve to Friday's rate by the as-of join).

Dirt, each at a small rate (see DIRT below for the exact rates): exact duplicate lines re-sent, nulls in
required fields, truncated CSV lines, cut-off JSON lines, zero or negative quantity/price, the unknown
currency XXX, inconsistent casing and whitespace (status, region, email, country, category, event_type),
timestamps with `Z`, with `+02:00` and without a zone, an unparsable timestamp, late rows (order_ts one or
two days before dt), and schema drift: an extra `coupon_code` column in the orders file on odd days
(by ordinal) and a reordered header on some others; nested extras (`context`, `archivedAt`) in JSON lines.
"""
from __future__ import annotations

import gzip
import random
import zlib
from datetime import date, datetime, timedelta, timezone

from lakehouse.config import Settings
from lakehouse.dev.generate.files import csv_bytes, jsonl_bytes, write_landing

CATEGORIES = ("Electronics", "Home", "Books", "Clothing", "Sports", "Toys", "Beauty")
REGIONS = ("North America", "Europe", "APAC", "LATAM")
PAYMENTS = ("card", "paypal", "bank_transfer", "gift_card")
STATUSES = (("placed", 55), ("shipped", 35), ("cancelled", 6), ("returned", 4))
# currency -> (USD per unit, share of orders, publishes on weekdays only)
CURRENCIES = {
    "USD": (1.0, 50, False), "EUR": (1.08, 14, True), "GBP": (1.27, 9, True), "JPY": (0.0067, 6, False),
    "CAD": (0.74, 6, False), "AUD": (0.66, 4, False), "CHF": (1.13, 3, True), "SEK": (0.095, 3, True),
    "INR": (0.012, 3, False), "BRL": (0.19, 2, False),
}
COUNTRIES = ("US", "DE", "GB", "FR", "JP", "CA", "AU", "CH", "BR", "IN", "SE")
FIRST = ("Ana", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena")
LAST = ("Smith", "Müller", "García", "Tanaka", "Okafor", "Rossi", "Dubois", "Silva", "Kim", "Novak")
MAIL_DOMAINS = ("example.com", "mail.example.org", "inbox.example.net")
PAGES = ("/", "/search", "/category", "/product", "/cart", "/checkout", "/account")
DEVICES = ("ios", "android", "web")

ORDER_COLUMNS = ["order_id", "customer_id", "product_id", "order_ts", "quantity", "unit_price", "currency",
                 "status", "region", "payment_method"]
CUSTOMER_COLUMNS = ["customer_id", "first_name", "last_name", "email", "phone", "country", "updated_at"]
PRODUCT_COLUMNS = ["product_id", "name", "category", "base_price", "currency", "active"]
FX_COLUMNS = ["date", "currency", "usd_rate", "rate_source"]

# Rates of each kind of dirt (share of the rows of that file).
DIRT = {
    "orders.duplicate": 0.01, "orders.truncated_line": 0.01, "orders.null_order_id": 0.005,
    "orders.null_customer_id": 0.005, "orders.bad_quantity": 0.01, "orders.bad_price": 0.01,
    "orders.unknown_currency": 0.01, "orders.bad_timestamp": 0.005, "orders.late": 0.02, "messy_text": 0.04,
    "customers.duplicate": 0.01, "customers.null_id": 0.01, "customers.truncated_line": 0.01,
    "contacts.invalid_json": 0.02, "clicks.duplicate": 0.01, "clicks.invalid_json": 0.005,
    "deals.negative_amount": 0.02,
}


# ------------------------------------------------------------------------------------------------ helpers

def _rng(seed: int, entity: str, day: date) -> random.Random:
    return random.Random(f"{seed}:{entity}:{day.isoformat()}")


def _stable(seed: int, key: str) -> int:
    """A per-key constant that does not depend on the day (customer phase, period, ...)."""
    return zlib.crc32(f"{seed}:{key}".encode())


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs)
    return rng.choices(values, weights=weights)[0]


def _ts(rng: random.Random, day: date, late_days: int = 0) -> str:
    """An ISO-8601 instant on `day` (minus `late_days`): with Z, without a zone (UTC meant), or +02:00."""
    moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - timedelta(days=late_days)
    moment += timedelta(seconds=rng.randrange(86400))
    style = rng.random()
    if style < 0.6:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style < 0.85:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return (moment + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")


def _messy(rng: random.Random, text: str) -> str:
    """Casing and whitespace the way hand-maintained systems send them (DIRT['messy_text'] of values)."""
    roll = rng.random()
    if roll < DIRT["messy_text"] / 2:
        return text.upper()
    if roll < DIRT["messy_text"]:
        return f"  {text.lower()} "
    return text


def _pick_few(rng: random.Random, n: int, rate: float) -> list[int]:
    """About n * rate distinct indexes (rounded at random, so small files get dirt sometimes)."""
    k = int(n * rate + rng.random())
    return rng.sample(range(n), min(n, k)) if n else []


# --------------------------------------------------------------------------------------------- customers

def _base_customers(rows: int) -> list[str]:
    """Customers that exist before the first landed day (the initial load)."""
    return [f"C{i:06d}" for i in range(1, max(40, rows // 2) + 1)]


def _signups(rows: int, day: date) -> list[str]:
    """Customers who sign up on `day`: in that day's feed, and some order the same day."""
    return [f"C{day:%Y%m%d}{k:03d}" for k in range(max(1, rows // 25))]


def _version(seed: int, cid: str, day: date) -> int:
    """Which version of a customer's details holds on `day`: each customer changes every 5-30 days."""
    h = _stable(seed, cid)
    period = 5 + h % 26
    return (day.toordinal() + (h >> 8) % period) // period


def _customer_row(seed: int, cid: str, day: date, rng: random.Random) -> list:
    h = _stable(seed, cid)
    first, last = FIRST[h % len(FIRST)], LAST[(h >> 4) % len(LAST)]
    v = _version(seed, cid, day)
    number = cid[1:].lstrip("0")
    # a new version changes the email address; every third version the customer also moves country
    email = f"{first}.{last}{number}@{MAIL_DOMAINS[v % len(MAIL_DOMAINS)]}".lower()
    country = COUNTRIES[((h >> 12) + v // 3) % len(COUNTRIES)]
    country = country.lower() if rng.random() < 0.02 else country
    return [cid, first, last, _messy(rng, email), f"+1-555-{h % 10000:04d}", country, _ts(rng, day)]


def _customers(seed: int, day: date, first_day: date, rows: int) -> tuple[list[list], list[int]]:
    rng = _rng(seed, "customers", day)
    base = _base_customers(rows)
    if day == first_day:
        chosen = list(base)
    else:
        yesterday = day - timedelta(days=1)
        changed = [c for c in base if _version(seed, c, day) != _version(seed, c, yesterday)]
        changed_set = set(changed)
        rest = [c for c in base if c not in changed_set]
        touched = rng.sample(rest, min(len(rest), max(0, rows // 5 - len(changed))))  # no-op updates
        chosen = sorted(changed + touched)
    out = [_customer_row(seed, cid, day, rng) for cid in chosen + _signups(rows, day)]
    for i in _pick_few(rng, len(out), DIRT["customers.null_id"]):
        out[i][0] = None
    out += [list(out[i]) for i in sorted(_pick_few(rng, len(out), DIRT["customers.duplicate"]))]
    return out, _pick_few(rng, len(out), DIRT["customers.truncated_line"])


# -------------------------------------------------------------------------------------- products and FX

def _catalog(seed: int, day: date) -> list[list]:
    """The day's true catalog (what orders are priced from): stable items, prices drifting a little."""
    rng = _rng(seed, "products-base", date(2000, 1, 1))
    day_rng = _rng(seed, "products-price", day)
    out = []
    for i in range(1, 51):
        category = rng.choice(CATEGORIES)
        base = rng.uniform(5, 900)
        active = "true" if rng.random() > 0.1 else "false"
        out.append([f"P{i:04d}", f"{category} item {i}", category, round(base * day_rng.uniform(0.98, 1.02), 2),
                    "USD", active])
    return out


def _products_file(seed: int, day: date, catalog: list[list]) -> list[list]:
    """The snapshot as exported: the catalog with a little dirt."""
    rng = _rng(seed, "products", day)
    out = [list(row) for row in catalog]
    for row in out:
        roll = rng.random()
        if roll < 0.02:
            row[2] = None  # missing category
        elif roll < 0.06:
            row[2] = _messy(rng, row[2]) if rng.random() < 0.5 else row[2].lower()
    if rng.random() < 0.3:
        out[rng.randrange(len(out))][3] = rng.choice((0, -5.0))  # a price nobody checked
    if rng.random() < 0.5:
        out.append(list(out[rng.randrange(len(out))]))  # the same product twice
    return out


def _fx(seed: int, day: date) -> list[list]:
    rng = _rng(seed, "fx", day)
    out = []
    for cur, (rate, _share, weekdays_only) in CURRENCIES.items():
        if cur == "USD" or (weekdays_only and day.weekday() >= 5):
            continue
        out.append([day.isoformat(), cur, round(rate * rng.uniform(0.99, 1.01), 6),
                    "ecb" if weekdays_only else rng.choice(("fed", "FED", "market"))])
    if rng.random() < 0.3:
        row = list(rng.choice(out))
        row[1] = f" {row[1].lower()}"  # the same rate again, spelled differently
        out.append(row)
    if rng.random() < 0.2:
        out.append([day.isoformat(), "XXX", -1, "manual"])  # a bad row from a manual feed
    return out


# ------------------------------------------------------------------------------------------------- orders

def _orders(seed: int, day: date, rows: int, catalog: list[list]) -> tuple[list[str], list[list], list[int]]:
    rng = _rng(seed, "orders", day)
    base, new = _base_customers(rows), _signups(rows, day)
    cum, total = [], 0.0
    for i in range(len(base)):  # some customers buy far more than others
        total += 1 / (i + 1) ** 0.7
        cum.append(total)
    drift = day.toordinal() % 2 == 1
    header = list(ORDER_COLUMNS) + (["coupon_code"] if drift else [])
    if day.toordinal() % 7 == 3:  # the exporter reordered two columns: readers must go by name
        a, b = header.index("region"), header.index("payment_method")
        header[a], header[b] = header[b], header[a]
    shares = [(c, v[1]) for c, v in CURRENCIES.items()]
    out = []
    for i in range(rows):
        product = rng.choice(catalog)
        cur = _weighted(rng, shares)
        price = round(float(product[3]) / CURRENCIES[cur][0] * rng.uniform(0.9, 1.1), 2)
        late = (1 + (rng.random() < 0.3)) if rng.random() < DIRT["orders.late"] else 0
        customer = rng.choice(new) if rng.random() < 0.05 else rng.choices(base, cum_weights=cum)[0]
        record = {
            "order_id": f"O{day:%Y%m%d}-{i:06d}", "customer_id": customer, "product_id": product[0],
            "order_ts": _ts(rng, day, late), "quantity": rng.choice((1, 1, 1, 2, 2, 3, 4, 5)),
            "unit_price": price, "currency": cur, "status": _messy(rng, _weighted(rng, STATUSES)),
            "region": _messy(rng, rng.choice(REGIONS)), "payment_method": rng.choice(PAYMENTS),
            "coupon_code": f"SAVE{rng.randrange(5, 30)}" if rng.random() < 0.2 else None,
        }
        out.append(record)
    for i in _pick_few(rng, rows, DIRT["orders.bad_quantity"]):
        out[i]["quantity"] = rng.choice((0, -1))
    for i in _pick_few(rng, rows, DIRT["orders.bad_price"]):
        out[i]["unit_price"] = rng.choice((0, -9.99))
    for i in _pick_few(rng, rows, DIRT["orders.unknown_currency"]):
        out[i]["currency"] = "XXX"
    for i in _pick_few(rng, rows, DIRT["orders.null_customer_id"]):
        out[i]["customer_id"] = None
    for i in _pick_few(rng, rows, DIRT["orders.null_order_id"]):
        out[i]["order_id"] = None
    for i in _pick_few(rng, rows, DIRT["orders.bad_timestamp"]):
        out[i]["order_ts"] = "not a timestamp"
    out += [dict(out[i]) for i in sorted(_pick_few(rng, rows, DIRT["orders.duplicate"]))]  # re-sent lines
    table = [[rec[c] for c in header] for rec in out]
    return header, table, _pick_few(rng, len(table), DIRT["orders.truncated_line"])


# ---------------------------------------------------------------------------------------------------- CRM

def _contacts(seed: int, day: date, rows: int) -> tuple[list[dict], list[int]]:
    rng = _rng(seed, "crm-contacts", day)
    base = _base_customers(rows)
    out = []
    for cid in sorted(rng.sample(base, min(len(base), max(3, rows // 20)))):
        n = int(cid[1:])
        h = _stable(seed, cid)
        first, last = FIRST[h % len(FIRST)], LAST[(h >> 4) % len(LAST)]
        created = _ts(rng, day - timedelta(days=30 + n % 300))
        updated = _ts(rng, day)
        record = {
            "id": f"{900000 + n}",
            "properties": {"email": _messy(rng, f"{first}.{last}{n}@example.com".lower()),
                           "firstname": first, "lastname": last, "company": f"Company {n % 40}",
                           "lifecyclestage": rng.choice(("lead", "customer", "opportunity")),
                           "shop_customer_id": cid, "createdate": created, "lastmodifieddate": updated},
            "associations": {"companies": {"results": [{"id": f"co-{n % 40}", "type": "contact_to_company"}]}},
            "createdAt": created, "updatedAt": updated, "archived": False,
        }
        if rng.random() < 0.03:
            record["archived"] = True
            record["archivedAt"] = updated  # the API adds it only to archived objects: lands in _rescued_data
        out.append(record)
    return out, _pick_few(rng, len(out), DIRT["contacts.invalid_json"])


def _deals(seed: int, day: date, rows: int) -> list[dict]:
    rng = _rng(seed, "crm-deals", day)
    base = _base_customers(rows)
    out = []
    for i in range(max(2, rows // 40)):
        n = int(rng.choice(base)[1:])
        cur = rng.choice(("USD", "USD", "EUR", "GBP"))
        amount = round(rng.uniform(500, 50000), 2) if rng.random() > DIRT["deals.negative_amount"] else -100
        created = _ts(rng, day)
        out.append({
            "id": f"D{day:%Y%m%d}{i:04d}",
            "properties": {"dealname": f"Deal {i} {day:%b}", "amount": str(amount), "deal_currency_code": cur,
                           "dealstage": rng.choice(("appointmentscheduled", "qualifiedtobuy", "closedwon",
                                                    "closedlost")),
                           "pipeline": "default", "closedate": _ts(rng, day + timedelta(days=rng.randrange(30))),
                           "createdate": created, "hs_lastmodifieddate": created},
            "associations": {"contacts": {"results": [{"id": f"{900000 + n}", "type": "deal_to_contact"}]}},
            "createdAt": created, "updatedAt": created, "archived": False,
        })
    return out


# --------------------------------------------------------------------------------------------- clickstream

def _clicks(seed: int, day: date, rows: int) -> tuple[list[dict], list[int]]:
    rng = _rng(seed, "clickstream", day)
    base = _base_customers(rows)
    out = []
    for s in range(max(10, rows)):
        session = f"S{day:%Y%m%d}-{s:06d}"
        user = rng.choice(base) if rng.random() < 0.7 else None  # anonymous visitors have no user_id
        steps = ["page_view"] * rng.randint(2, 6)
        if rng.random() < 0.4:
            steps.append("add_to_cart")
            if rng.random() < 0.5:
                steps.append("checkout")
                if rng.random() < 0.7:
                    steps.append("purchase")
        device = rng.choice(DEVICES)
        for k, kind in enumerate(steps):
            event = {"event_id": f"E{day:%Y%m%d}-{s:06d}-{k}", "event_ts": _ts(rng, day),
                     "event_type": _messy(rng, kind), "user_id": user, "session_id": session,
                     "page": rng.choice(PAGES),
                     "value": round(rng.uniform(10, 500), 2) if kind == "purchase" else None}
            if rng.random() < 0.05:  # newer producers add a context object nobody declared
                event["context"] = {"device": device, "referrer": rng.choice((None, "search", "email", "ad"))}
            out.append(event)
    out += [dict(out[i]) for i in sorted(_pick_few(rng, len(out), DIRT["clicks.duplicate"]))]  # at-least-once
    return out, _pick_few(rng, len(out), DIRT["clicks.invalid_json"])


# ------------------------------------------------------------------------------------------------- writing

def land_commerce(settings: Settings, start: date, days: int, rows: int, seed: int) -> list[str]:
    """Write `days` days of commerce landing files starting at `start` (`rows` orders a day); returns the
    URIs written, in writing order."""
    if days < 0 or rows < 0:
        raise ValueError("days and rows must not be negative")
    written = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        stamp, part = f"{day:%Y%m%d}", f"dt={day.isoformat()}"
        catalog = _catalog(seed, day)
        written.append(write_landing(settings, f"shop/products/{part}/products_{stamp}.csv",
                              csv_bytes(PRODUCT_COLUMNS, _products_file(seed, day, catalog))))
        customers, cut = _customers(seed, day, start, rows)
        written.append(write_landing(settings, f"shop/customers/{part}/customers_{stamp}.csv",
                              csv_bytes(CUSTOMER_COLUMNS, customers, cut)))
        written.append(write_landing(settings, f"fx/rates/{part}/rates_{stamp}.csv", csv_bytes(FX_COLUMNS, _fx(seed, day))))
        header, orders, cut = _orders(seed, day, rows, catalog)
        written.append(write_landing(settings, f"shop/orders/{part}/orders_{stamp}.csv", csv_bytes(header, orders, cut)))
        contacts, broken = _contacts(seed, day, rows)
        written.append(write_landing(settings, f"crm/contacts/{part}/contacts_{stamp}.jsonl", jsonl_bytes(contacts, broken)))
        written.append(write_landing(settings, f"crm/deals/{part}/deals_{stamp}.jsonl", jsonl_bytes(_deals(seed, day, rows))))
        clicks, broken = _clicks(seed, day, rows)
        written.append(write_landing(settings, f"events/clickstream/{part}/clickstream_{stamp}.jsonl.gz",
                              gzip.compress(jsonl_bytes(clicks, broken), mtime=0)))
    return written
