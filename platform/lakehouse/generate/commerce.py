"""Deterministic, deliberately dirty commerce sample data, landed exactly as real exports would be.

Every file is a pure function of (entity, day, rows, seed): re-landing writes the same bytes to the same
names. Dirt comes at small rates per kind: duplicates, nulls in required fields, malformed lines,
zero/negative amounts, an unknown currency, inconsistent casing and whitespace, timestamps with and
without a zone, late rows, and schema drift (an extra `coupon_code` column on odd days).
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import random
from datetime import date, datetime, timedelta, timezone

from lakehouse.config import Settings
from lakehouse.storage.filesystem import filesystem_for

CATEGORIES = ("Electronics", "Home", "Books", "Clothing", "Sports", "Toys", "Beauty")
REGIONS = ("North America", "Europe", "APAC", "LATAM")
PAYMENTS = ("card", "paypal", "bank_transfer", "gift_card")
STATUSES = (("placed", 55), ("shipped", 35), ("cancelled", 6), ("returned", 4))
# currency -> (usd per unit, share of orders, skips weekends)
CURRENCIES = {"USD": (1.0, 55, False), "EUR": (1.08, 15, True), "GBP": (1.27, 10, True),
              "JPY": (0.0067, 6, False), "CAD": (0.74, 6, False), "AUD": (0.66, 4, False),
              "CHF": (1.13, 4, True)}
COUNTRIES = ("US", "DE", "GB", "FR", "JP", "CA", "AU", "CH", "BR", "IN")
FIRST = ("Ana", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena")
LAST = ("Smith", "Müller", "García", "Tanaka", "Okafor", "Rossi", "Dubois", "Silva", "Kim", "Novak")
PAGES = ("/", "/search", "/category", "/product", "/cart", "/checkout", "/account")


def _rng(seed: int, entity: str, day: date) -> random.Random:
    return random.Random(f"{seed}:{entity}:{day.isoformat()}")


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs)
    return rng.choices(values, weights=weights)[0]


def _ts(rng: random.Random, day: date, late_days: int = 0) -> str:
    moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - timedelta(days=late_days)
    moment += timedelta(seconds=rng.randrange(86400))
    style = rng.random()
    if style < 0.6:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style < 0.85:
        return moment.strftime("%Y-%m-%d %H:%M:%S")  # no zone: taken as UTC
    return (moment + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")


def _messy(rng: random.Random, text: str) -> str:
    """Casing and whitespace the way hand-maintained systems send them (~5% of values)."""
    roll = rng.random()
    if roll < 0.02:
        return text.upper()
    if roll < 0.04:
        return f"  {text.lower()} "
    return text


def _csv(header, rows, malformed: list[int]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for i, row in enumerate(rows):
        if i in malformed:  # a truncated line: fewer fields than the header
            buf.write(",".join(str(v) for v in row[: len(row) // 2]) + "\n")
        else:
            writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue().encode()


def _jsonl(records, broken: list[int]) -> bytes:
    lines = []
    for i, rec in enumerate(records):
        text = json.dumps(rec, ensure_ascii=False)
        lines.append(text[: len(text) // 2] if i in broken else text)  # cut mid-object: invalid JSON
    return ("\n".join(lines) + "\n").encode()


def _pick_few(rng: random.Random, n: int, rate: float) -> list[int]:
    return rng.sample(range(n), min(n, int(n * rate))) if n else []


def _customer_ids(rows: int) -> list[str]:
    return [f"C{i:06d}" for i in range(1, max(50, rows // 2) + 1)]


def _products(seed: int, day: date) -> list[list]:
    rng = _rng(seed, "products-base", date(2000, 1, 1))  # stable catalog, prices drift a little per day
    day_rng = _rng(seed, "products", day)
    out = []
    for i in range(1, 51):
        base = round(rng.uniform(5, 900), 2)
        out.append([f"P{i:04d}", f"{rng.choice(CATEGORIES)} item {i}", rng.choice(CATEGORIES), base, "USD",
                    "true" if rng.random() > 0.1 else "false"])
    for row in out:
        row[3] = round(row[3] * day_rng.uniform(0.98, 1.02), 2)
        if day_rng.random() < 0.02:
            row[2] = None  # missing category
        elif day_rng.random() < 0.04:
            row[2] = _messy(day_rng, row[2])
    return out


def _customers(seed: int, day: date, first_day: date, rows: int) -> list[list]:
    rng = _rng(seed, "customers", day)
    ids = _customer_ids(rows)
    chosen = ids if day == first_day else rng.sample(ids, max(5, len(ids) // 10))
    out = []
    for cid in chosen:
        n = int(cid[1:])
        first, last = FIRST[n % len(FIRST)], LAST[n % len(LAST)]
        version = 0 if day == first_day else (day - first_day).days
        email = f"{first}.{last}{n}{'' if version < 2 else version}@example.com".lower()
        country = COUNTRIES[(n + version // 3) % len(COUNTRIES)]
        out.append([cid, first, last, _messy(rng, email), f"+1-555-{n % 10000:04d}", country, _ts(rng, day)])
    for i in _pick_few(rng, len(out), 0.01):
        out[i][0] = None  # null key
    out += [list(out[i]) for i in _pick_few(rng, len(out), 0.01)]  # duplicates
    return out


def _fx(seed: int, day: date) -> list[list]:
    rng = _rng(seed, "fx", day)
    out = []
    for cur, (rate, _share, skips_weekend) in CURRENCIES.items():
        if cur == "USD" or (skips_weekend and day.weekday() >= 5):
            continue
        out.append([day.isoformat(), cur, round(rate * rng.uniform(0.99, 1.01), 6), "ecb" if rng.random() < .5 else "fed"])
    if rng.random() < 0.2:
        out.append([day.isoformat(), "XXX", -1, "manual"])  # a bad row from a manual feed
    return out


def _orders(seed: int, day: date, rows: int, catalog: list[list]) -> tuple[list[str], list[list], list[int]]:
    rng = _rng(seed, "orders", day)
    customers = _customer_ids(rows)
    drift = day.toordinal() % 2 == 1
    header = ["order_id", "customer_id", "product_id", "order_ts", "quantity", "unit_price", "currency",
              "status", "region", "payment_method"] + (["coupon_code"] if drift else [])
    shares = [(c, v[1]) for c, v in CURRENCIES.items()]
    out = []
    for i in range(rows):
        product = rng.choice(catalog)
        cur = _weighted(rng, shares)
        price = round(float(product[3]) / CURRENCIES[cur][0] * rng.uniform(0.9, 1.1), 2)
        late = 1 + (rng.random() < 0.3) if rng.random() < 0.02 else 0
        row = [f"O{day:%Y%m%d}-{i:06d}", rng.choice(customers), product[0], _ts(rng, day, late),
               rng.choice((1, 1, 1, 2, 2, 3, 4, 5)), price, cur, _messy(rng, _weighted(rng, STATUSES)),
               _messy(rng, rng.choice(REGIONS)), rng.choice(PAYMENTS)]
        if drift:
            row.append(f"SAVE{rng.randrange(5, 30)}" if rng.random() < 0.2 else None)
        out.append(row)
    for i in _pick_few(rng, rows, 0.01):
        out[i][4] = rng.choice((0, -1))  # zero or negative quantity
    for i in _pick_few(rng, rows, 0.01):
        out[i][5] = rng.choice((0, -9.99))
    for i in _pick_few(rng, rows, 0.01):
        out[i][6] = "XXX"  # unknown currency
    for i in _pick_few(rng, rows, 0.005):
        out[i][1] = None  # missing customer
    for i in _pick_few(rng, rows, 0.005):
        out[i][3] = "not a timestamp"
    out += [list(out[i]) for i in _pick_few(rng, rows, 0.01)]  # the exporter re-sent some lines
    return header, out, _pick_few(rng, len(out), 0.005)


def _contacts(seed: int, day: date, rows: int) -> list[dict]:
    rng = _rng(seed, "crm-contacts", day)
    out = []
    for cid in rng.sample(_customer_ids(rows), max(3, rows // 20)):
        n = int(cid[1:])
        out.append({
            "id": f"{900000 + n}",
            "properties": {"email": _messy(rng, f"{FIRST[n % 12]}.{LAST[n % 10]}{n}@example.com".lower()),
                           "firstname": FIRST[n % 12], "lastname": LAST[n % 10],
                           "company": f"Company {n % 40}", "lifecyclestage": rng.choice(("lead", "customer", "opportunity")),
                           "shop_customer_id": cid, "createdate": _ts(rng, day - timedelta(days=30)),
                           "lastmodifieddate": _ts(rng, day)},
            "associations": {"companies": {"results": [{"id": f"co-{n % 40}", "type": "contact_to_company"}]}},
            "createdAt": _ts(rng, day - timedelta(days=30)), "updatedAt": _ts(rng, day), "archived": False,
        })
    return out


def _deals(seed: int, day: date, rows: int) -> list[dict]:
    rng = _rng(seed, "crm-deals", day)
    out = []
    for i in range(max(2, rows // 40)):
        n = rng.randrange(1, len(_customer_ids(rows)) + 1)
        cur = rng.choice(("USD", "USD", "EUR", "GBP"))
        amount = round(rng.uniform(500, 50000), 2) if rng.random() > 0.02 else -100
        out.append({
            "id": f"D{day:%Y%m%d}{i:04d}",
            "properties": {"dealname": f"Deal {i} {day:%b}", "amount": str(amount), "deal_currency_code": cur,
                           "dealstage": rng.choice(("appointmentscheduled", "qualifiedtobuy", "closedwon", "closedlost")),
                           "pipeline": "default", "closedate": _ts(rng, day + timedelta(days=rng.randrange(30))),
                           "createdate": _ts(rng, day), "hs_lastmodifieddate": _ts(rng, day)},
            "associations": {"contacts": {"results": [{"id": f"{900000 + n}", "type": "deal_to_contact"}]}},
            "createdAt": _ts(rng, day), "updatedAt": _ts(rng, day), "archived": False,
        })
    return out


def _clicks(seed: int, day: date, rows: int) -> list[dict]:
    rng = _rng(seed, "clickstream", day)
    customers = _customer_ids(rows)
    out = []
    for s in range(max(10, rows)):
        session = f"S{day:%Y%m%d}-{s:06d}"
        user = rng.choice(customers) if rng.random() < 0.7 else None
        steps = ["page_view"] * rng.randint(1, 4)
        if rng.random() < 0.4:
            steps.append("add_to_cart")
            if rng.random() < 0.5:
                steps.append("checkout")
                if rng.random() < 0.7:
                    steps.append("purchase")
        for k, kind in enumerate(steps):
            out.append({"event_id": f"E{day:%Y%m%d}-{s:06d}-{k}", "event_ts": _ts(rng, day),
                        "event_type": _messy(rng, kind) if rng.random() < 0.5 else kind, "user_id": user,
                        "session_id": session, "page": rng.choice(PAGES),
                        "value": round(rng.uniform(10, 500), 2) if kind == "purchase" else None})
    out += [dict(out[i]) for i in _pick_few(rng, len(out), 0.01)]  # at-least-once delivery repeats events
    return out


def _write(settings: Settings, key: str, payload: bytes) -> str:
    uri = f"{settings.landing.rstrip('/')}/{key}"
    fs, path = filesystem_for(uri, settings)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path, compression=None) as out:  # payloads arrive already compressed
        out.write(payload)
    return uri


def land_commerce(settings: Settings, start: date, days: int, rows: int, seed: int) -> list[str]:
    """Write `days` days of commerce landing files starting at `start`; returns the URIs written."""
    written = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        stamp, part = f"{day:%Y%m%d}", f"dt={day.isoformat()}"
        rng = _rng(seed, "dirt", day)
        catalog = _products(seed, day)
        written.append(_write(settings, f"shop/products/{part}/products_{stamp}.csv", _csv(
            ["product_id", "name", "category", "base_price", "currency", "active"], catalog, [])))
        cust = _customers(seed, day, start, rows)
        written.append(_write(settings, f"shop/customers/{part}/customers_{stamp}.csv", _csv(
            ["customer_id", "first_name", "last_name", "email", "phone", "country", "updated_at"], cust,
            _pick_few(rng, len(cust), 0.005))))
        written.append(_write(settings, f"fx/rates/{part}/rates_{stamp}.csv", _csv(
            ["date", "currency", "usd_rate", "rate_source"], _fx(seed, day), [])))
        header, orders, malformed = _orders(seed, day, rows, catalog)
        written.append(_write(settings, f"shop/orders/{part}/orders_{stamp}.csv", _csv(header, orders, malformed)))
        contacts = _contacts(seed, day, rows)
        written.append(_write(settings, f"crm/contacts/{part}/contacts_{stamp}.jsonl",
                              _jsonl(contacts, _pick_few(rng, len(contacts), 0.02))))
        written.append(_write(settings, f"crm/deals/{part}/deals_{stamp}.jsonl", _jsonl(_deals(seed, day, rows), [])))
        clicks = _clicks(seed, day, rows)
        written.append(_write(settings, f"events/clickstream/{part}/clickstream_{stamp}.jsonl.gz",
                              gzip.compress(_jsonl(clicks, _pick_few(rng, len(clicks), 0.005)), mtime=0)))
    return written
