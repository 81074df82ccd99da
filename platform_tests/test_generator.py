"""The sample-data generator: deterministic, dirty on purpose, and referentially sane (read back through the
bronze reader, the way the platform sees it)."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest

from lakehouse.dev.generate import DOMAINS
from lakehouse.dev.generate.commerce import land_commerce
from lakehouse.ingest.landing import LandingZone
from lakehouse.ingest.readers import read_landing_partition
from lakehouse.pipeline.registry import get_spec, landed_specs

START = date(2024, 6, 6)  # a Thursday: the three days cover Friday and Saturday too
DAYS = [(START + timedelta(days=i)).isoformat() for i in range(3)]


def _bytes(uris) -> dict[str, bytes]:
    return {u.split("/landing/", 1)[1]: Path(urlparse(u).path).read_bytes() for u in uris}


@pytest.fixture
def landed(lakehouse_env):
    uris = land_commerce(lakehouse_env, START, 3, 300, 7)
    return lakehouse_env, uris


def _bronze(settings, table: str, dt: str):
    return read_landing_partition(settings, get_spec(table), dt)


def test_registered_as_a_domain():
    assert DOMAINS["commerce"] is land_commerce


def test_same_arguments_write_the_same_bytes_under_the_same_names(lakehouse_env, tmp_path):
    first = _bytes(land_commerce(lakehouse_env, START, 2, 80, 42))
    again = _bytes(land_commerce(lakehouse_env, START, 2, 80, 42))
    assert first == again and len(first) == 14
    assert len(LandingZone(lakehouse_env).files()) == 14  # re-landing overwrote, nothing added
    assert any(k.endswith(".jsonl.gz") for k in first)
    other = _bytes(land_commerce(lakehouse_env.with_(landing=(tmp_path / "x" / "landing").as_uri()), START, 2, 80, 43))
    assert other.keys() == first.keys() and all(other[k] != first[k] for k in first)


def test_a_day_does_not_depend_on_the_range_it_was_landed_in(lakehouse_env, tmp_path):
    """Every file but the first day's customer load is a function of (seed, entity, day, rows) alone."""
    ranged = _bytes(land_commerce(lakehouse_env, START, 3, 50, 5))
    alone = _bytes(land_commerce(lakehouse_env.with_(landing=(tmp_path / "y" / "landing").as_uri()),
                                 START + timedelta(days=2), 1, 50, 5))
    for key, payload in alone.items():
        if "/customers/" not in key:
            assert ranged[key] == payload, key


def test_data_is_mostly_clean_but_dirty_on_purpose(landed):
    settings, _ = landed
    total = quarantined = 0
    for spec in landed_specs("commerce"):
        for dt in DAYS:
            result = read_landing_partition(settings, spec, dt)
            assert result.table.num_rows > 0, (spec.id, dt)
            assert not any(f.error for f in result.files)  # dirty lines, never unreadable files
            total += result.table.num_rows + result.quarantine.num_rows
            quarantined += result.quarantine.num_rows
    assert 0 < quarantined < 0.03 * total  # > 97% of the lines parse

    orders = [r for dt in DAYS for r in _bronze(settings, "bronze.shop_orders", dt).table.to_pylist()]
    reasons = [q["reason"] for dt in DAYS for q in _bronze(settings, "bronze.shop_orders", dt).quarantine.to_pylist()]
    assert reasons and all(r.startswith("expected 1") and "fields, found" in r for r in reasons)  # truncated lines
    assert any(r["currency"] == "XXX" for r in orders)
    assert any(r["quantity"] in ("0", "-1") for r in orders)
    assert any(r["unit_price"] in ("0", "-9.99") for r in orders)
    assert any(r["customer_id"] is None for r in orders) and any(r["order_id"] is None for r in orders)
    assert any(r["order_ts"] == "not a timestamp" for r in orders)
    keys = Counter((r["order_id"], r["_source_file"]) for r in orders if r["order_id"])
    assert any(n > 1 for n in keys.values())  # re-sent lines
    statuses = {r["status"] for r in orders if r["status"]}
    assert {"placed", "shipped"} <= statuses and any(s != s.strip().lower() for s in statuses)
    stamps = [r["order_ts"] for r in orders if r["order_ts"] and r["order_ts"][0].isdigit()]
    assert any(s.endswith("Z") for s in stamps) and any(s.endswith("+02:00") for s in stamps)
    assert any(len(s) == 19 for s in stamps)  # no zone
    late = [r for r in orders if r["order_ts"] and r["order_ts"][:10] < r["dt"] and r["order_ts"][0].isdigit()]
    assert late and all(r["order_ts"][:10] >= (date.fromisoformat(r["dt"]) - timedelta(days=2)).isoformat()
                        for r in late)

    # schema drift: coupon_code on odd days (by ordinal), rescued rather than lost
    drifted = [dt for dt in DAYS if date.fromisoformat(dt).toordinal() % 2 == 1]
    for dt in DAYS:
        result = _bronze(settings, "bronze.shop_orders", dt)
        assert (result.files[0].extra_columns == ["coupon_code"]) == (dt in drifted)
    rescued = [json.loads(r["_rescued_data"]) for r in orders if r["_rescued_data"]]
    assert rescued and all(set(x) == {"coupon_code"} for x in rescued)

    clicks = _bronze(settings, "bronze.events_clickstream", DAYS[0])
    assert clicks.quarantine.num_rows >= 1 and "invalid JSON" in clicks.quarantine.column("reason")[0].as_py()
    assert any(json.loads(r)["context"] for r in clicks.table.column("_rescued_data").to_pylist() if r)


def test_volumes_and_shapes(landed):
    settings, _ = landed
    rows = 300
    products = _bronze(settings, "bronze.shop_products", DAYS[1]).table
    assert 50 <= products.num_rows <= 51 and len(set(products.column("product_id").to_pylist())) == 50
    first = _bronze(settings, "bronze.shop_customers", DAYS[0]).table.num_rows
    later = _bronze(settings, "bronze.shop_customers", DAYS[1]).table.num_rows
    assert first >= rows // 2 and rows // 8 <= later <= rows // 3  # initial load, then a change feed
    for dt in DAYS:
        events = _bronze(settings, "bronze.events_clickstream", dt).table.to_pylist()
        assert 4 * rows <= len(events) <= 6 * rows
        funnel = Counter(e["event_type"].strip().lower() for e in events)
        assert funnel["page_view"] > funnel["add_to_cart"] > funnel["checkout"] > funnel["purchase"] > 0
    contact = _bronze(settings, "bronze.crm_contacts", DAYS[0]).table.to_pylist()[0]
    assert {"email", "shop_customer_id"} <= set(json.loads(contact["properties"]))
    assert "companies" in json.loads(contact["associations"]) and contact["archived"] in ("true", "false")
    deal = _bronze(settings, "bronze.crm_deals", DAYS[0]).table.to_pylist()[0]
    assert json.loads(deal["associations"])["contacts"]["results"][0]["id"]
    # FX: weekday-only currencies skip Saturday; the others publish every day
    saturday = [dt for dt in DAYS if date.fromisoformat(dt).weekday() == 5][0]
    sat = {r["currency"].strip().upper() for r in _bronze(settings, "bronze.fx_rates", saturday).table.to_pylist()}
    fri = {r["currency"].strip().upper() for r in _bronze(settings, "bronze.fx_rates", DAYS[1]).table.to_pylist()}
    assert "EUR" in fri and "EUR" not in sat and {"JPY", "CAD"} <= sat
    assert all(r["date"] == DAYS[1] for r in _bronze(settings, "bronze.fx_rates", DAYS[1]).table.to_pylist())


def test_customers_change_email_or_country_over_days(lakehouse_env):
    land_commerce(lakehouse_env, START, 20, 100, 3)
    seen = defaultdict(set)
    for i in range(20):
        dt = (START + timedelta(days=i)).isoformat()
        for r in _bronze(lakehouse_env, "bronze.shop_customers", dt).table.to_pylist():
            if r["customer_id"] and r["email"]:
                seen[r["customer_id"]].add((r["email"].strip().lower(), r["country"].upper()))
    changed = [c for c, versions in seen.items() if len(versions) > 1]
    assert len(changed) > 0.3 * len(seen)
    assert any(len({country for _, country in seen[c]}) > 1 for c in changed)


def test_orders_reference_known_customers_products_and_rated_currencies(landed):
    settings, _ = landed
    customers: set[str] = set()
    rated: dict[str, set[str]] = {}
    for dt in DAYS:
        customers |= {r["customer_id"] for r in _bronze(settings, "bronze.shop_customers", dt).table.to_pylist()}
        rated[dt] = {r["currency"].strip().upper() for r in _bronze(settings, "bronze.fx_rates", dt).table.to_pylist()}
    for dt in DAYS:
        orders = [r for r in _bronze(settings, "bronze.shop_orders", dt).table.to_pylist() if r["customer_id"]]
        products = {r["product_id"] for r in _bronze(settings, "bronze.shop_products", dt).table.to_pylist()}
        # the rate of the order day or, for weekday-only currencies on a weekend, of an earlier landed day
        known = {"USD"}.union(*(rated[d] for d in DAYS if d <= dt))
        assert sum(r["customer_id"] in customers for r in orders) > 0.95 * len(orders)
        assert all(r["product_id"] in products for r in orders)
        assert sum(r["currency"] in known for r in orders) > 0.97 * len(orders)
        assert {r["currency"] for r in orders} - known <= {"XXX"}


def test_lands_on_s3(s3_lakehouse_env):
    uris = land_commerce(s3_lakehouse_env, START, 1, 20, 1)
    assert all(u.startswith(s3_lakehouse_env.landing + "/") for u in uris)
    assert sorted(f.uri for f in LandingZone(s3_lakehouse_env).files()) == sorted(uris)
    result = read_landing_partition(s3_lakehouse_env, get_spec("bronze.events_clickstream"), DAYS[0])
    assert result.table.num_rows > 50 and not any(f.error for f in result.files)
