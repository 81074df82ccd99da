"""Model tests for every commerce SQL file: tiny input rows -> exact output rows and rule outcomes."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal as D

import pytest
from model_testing import run_model

DAY, NEXT = "2024-06-03", "2024-06-04"
SALT = "model-test-salt"  # customers and CRM contacts hash emails with LAKEHOUSE_PII_SALT


def h(email: str) -> str:
    return hashlib.sha256((SALT + email).encode()).hexdigest()


@pytest.fixture
def salted(monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_PII_SALT", SALT)


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def bronze(dt_: str, line: int, ingested: str = "2024-06-03T23:00:00", **values) -> dict:
    return {**values, "_source_file": f"file-{dt_}.csv", "_line_number": line,
            "_ingested_at": ingested, "dt": dt_}


# --- silver.fx_rates -----------------------------------------------------------------------------------
def test_fx_rates_one_rate_per_date_and_currency(spark):
    run = run_model(spark, "silver.fx_rates", {"bronze_fx_rates": [
        bronze(DAY, 1, date="2024-06-03", currency="eur ", usd_rate="1.08", rate_source="ECB"),
        bronze(DAY, 2, date="2024-06-03", currency="EUR", usd_rate="1.09", rate_source="ecb"),  # later: wins
        bronze(DAY, 3, date="2024-06-02", currency="GBP", usd_rate="1.27"),
        bronze(DAY, 4, date="2024-06-03", currency="XXX", usd_rate="2"),
        bronze(DAY, 5, date="not a date", currency="JPY", usd_rate="0.0064"),
        bronze(DAY, 6, date="2024-06-03", currency="CHF", usd_rate="-1"),
    ]}, DAY)
    assert run.rows() == [
        {"rate_date": d("2024-06-02"), "currency": "GBP", "rate_source": None, "usd_rate": D("1.27000000"), "dt": DAY},
        {"rate_date": d("2024-06-03"), "currency": "EUR", "rate_source": "ecb", "usd_rate": D("1.09000000"), "dt": DAY},
    ]
    assert run.quarantine("currency") == [
        {"currency": "CHF", "rules": ["positive_rate"]},
        {"currency": "JPY", "rules": ["rate_date_present"]},
        {"currency": "XXX", "rules": ["known_currency"]},
    ]
    assert run.contract.passed, run.contract.summary()


# --- silver.orders -------------------------------------------------------------------------------------
def _order(line, order_id, ts_="2024-06-03T10:00:00Z", qty="2", price="10.00", cur="EUR", dt_=DAY, **extra):
    values = dict(order_id=order_id, customer_id="c1", product_id="p1", order_ts=ts_, quantity=qty,
                  unit_price=price, currency=cur, status="placed", region="emea", payment_method="card")
    values.update(extra)
    return bronze(dt_, line, **values)


def _rate(rate_date, cur, rate, dt_=None):
    return {"rate_date": rate_date, "currency": cur, "usd_rate": rate, "dt": dt_ or rate_date}


def test_orders_typed_deduplicated_and_priced_as_of_the_order_date(spark):
    run = run_model(spark, "silver.orders", {
        "bronze_shop_orders": [
            _order(1, "o1", qty="1", price="5.00", status=" PLACED "),  # an older delivery of o1
            _order(2, "o1", ingested="2024-06-03T23:30:00"),  # the latest delivery wins
            _order(3, "o2", ts_="2024-06-01T22:00:00-03:00", cur="usd"),  # late row with a zone -> 06-02 UTC
            _order(4, "o3", ts_="2024-06-02 09:00:00", cur="GBP"),  # rate of 05-31 (weekend gap)
            _order(5, "o4", qty="0"),
            _order(6, "o5", price="-3"),
            _order(7, "o6", cur="XXX"),
            _order(8, "o7", ts_="yesterday"),
            _order(9, "o8", cur="JPY"),  # no JPY rate at all
            _order(10, "o9", cur="CHF"),  # CHF rate is more than 7 days old
            _order(11, None),
        ],
        "silver_fx_rates": [
            _rate("2024-06-03", "EUR", "1.10"), _rate("2024-06-02", "EUR", "1.00"),
            _rate("2024-06-04", "EUR", "9.99"),  # after the order date (and delivered later): never used
            _rate("2024-05-31", "GBP", "1.25"),
            _rate("2024-05-20", "CHF", "1.12"),
        ],
    }, DAY)
    assert run.rows("order_id", "status", "currency", "quantity", "amount", "usd_rate", "amount_usd",
                    "fx_rate_date", "order_date") == [
        {"order_id": "o1", "status": "placed", "currency": "EUR", "quantity": 2, "amount": D("20.00"),
         "usd_rate": D("1.10000000"), "amount_usd": D("22.00"), "fx_rate_date": d("2024-06-03"),
         "order_date": d("2024-06-03")},
        {"order_id": "o2", "status": "placed", "currency": "USD", "quantity": 2, "amount": D("20.00"),
         "usd_rate": D("1.00000000"), "amount_usd": D("20.00"), "fx_rate_date": d("2024-06-02"),
         "order_date": d("2024-06-02")},
        {"order_id": "o3", "status": "placed", "currency": "GBP", "quantity": 2, "amount": D("20.00"),
         "usd_rate": D("1.25000000"), "amount_usd": D("25.00"), "fx_rate_date": d("2024-05-31"),
         "order_date": d("2024-06-02")},
    ]
    assert run.rows("order_id", "order_ts")[1] == {"order_id": "o2", "order_ts": ts("2024-06-02T01:00:00")}
    assert run.quarantine("order_id") == [
        {"order_id": None, "rules": ["order_id_present"]},
        {"order_id": "o1", "rules": ["latest_delivery"]},  # the earlier copy of a re-sent order
        {"order_id": "o4", "rules": ["positive_quantity"]},
        {"order_id": "o5", "rules": ["positive_unit_price"]},
        {"order_id": "o6", "rules": ["known_currency", "fx_rate_available"]},
        {"order_id": "o7", "rules": ["parsable_timestamp", "fx_rate_available"]},
        {"order_id": "o8", "rules": ["fx_rate_available"]},
        {"order_id": "o9", "rules": ["fx_rate_available"]},
    ]
    assert run.violations["arrived_on_order_day"] == 3  # o2, o3 and o7 (no date) are counted, kept
    assert run.contract.passed, run.contract.summary()


def test_orders_batch_of_two_days_equals_the_days_one_by_one(spark):
    inputs = {
        "bronze_shop_orders": [_order(1, "o1"), _order(1, "o1", dt_=NEXT, ts_="2024-06-04T08:00:00Z")],
        "silver_fx_rates": [_rate(DAY, "EUR", "1.10"), _rate(NEXT, "EUR", "1.20")],
    }
    both = run_model(spark, "silver.orders", inputs, DAY, NEXT).rows("order_id", "amount_usd", "dt")
    one_by_one = sorted(run_model(spark, "silver.orders", inputs, DAY).rows("order_id", "amount_usd", "dt")
                        + run_model(spark, "silver.orders", inputs, NEXT).rows("order_id", "amount_usd", "dt"),
                        key=lambda r: r["dt"])
    assert both == one_by_one == [{"order_id": "o1", "amount_usd": D("22.00"), "dt": DAY},
                                  {"order_id": "o1", "amount_usd": D("24.00"), "dt": NEXT}]


# --- silver.products -----------------------------------------------------------------------------------
def test_products_snapshot_typed_and_normalized(spark):
    run = run_model(spark, "silver.products", {"bronze_shop_products": [
        bronze(DAY, 1, product_id="p1", name=" Phone ", category=" electronics ", base_price="10.5",
               currency="usd", active="TRUE"),
        bronze(DAY, 2, ingested="2024-06-03T23:59:00", product_id="p1", name="Phone", category="ELECTRONICS",
               base_price="11", currency="USD", active="yes"),
        bronze(DAY, 3, product_id="p2", name="Mug", category=" ", base_price="3", currency="EUR", active="maybe"),
        bronze(DAY, 4, product_id="p3", name="Free", category="Gifts", base_price="0", currency="USD", active="1"),
        bronze(DAY, 5, product_id="p4", name="Odd", category="Gifts", base_price="2", currency="XXX", active="0"),
        bronze(DAY, 6, name="No id", category="Gifts", base_price="2", currency="USD", active="0"),
    ]}, DAY)
    assert run.rows() == [
        {"product_id": "p1", "product_name": "Phone", "category": "Electronics", "currency": "USD",
         "base_price": D("11.00"), "is_active": True, "dt": DAY},
        {"product_id": "p2", "product_name": "Mug", "category": None, "currency": "EUR",
         "base_price": D("3.00"), "is_active": None, "dt": DAY},
    ]
    assert run.quarantine("product_name") == [
        {"product_name": "Free", "rules": ["positive_base_price"]},
        {"product_name": "No id", "rules": ["product_id_present"]},
        {"product_name": "Odd", "rules": ["known_currency"]},
    ]
    assert (run.violations["category_present"], run.violations["active_flag_readable"]) == (1, 1)
    assert run.contract.passed, run.contract.summary()


# --- silver.customers (SCD2) ---------------------------------------------------------------------------
def _customer(dt_, line, cid, updated, email="ann@x.com", country="us", **extra):
    values = dict(customer_id=cid, first_name=" ann ", last_name="LEE", email=email, phone="+1 (555) 010",
                  country=country, updated_at=updated)
    values.update(extra)
    return bronze(dt_, line, **values)


CUSTOMER_FEED = [
    _customer("2024-06-02", 1, "c1", "2024-06-02T10:00:00Z", email=" Ann@X.com "),
    _customer(DAY, 1, "c1", "2024-06-03T09:00:00Z", email="ann.lee@x.com"),
    _customer(DAY, 2, "c1", "2024-06-03T12:00:00Z", email="ANN.LEE@x.com"),  # no change: no new version
    _customer(DAY, 3, "c2", "2024-06-03T08:00:00Z", email="bo@x.com", first_name="bo"),
    _customer(DAY, 4, "c2", "garbage", email="bo@x.com"),
    _customer(NEXT, 1, "c1", "2024-06-02T18:00:00Z", country="CA"),  # late and out of order
]
SCD_COLUMNS = ("dt", "customer_id", "valid_from", "valid_to", "is_current", "email_hash", "country")


def test_customers_scd2_history_batch_rerun_and_backfill_agree(spark, salted):
    first = run_model(spark, "silver.customers", {"bronze_shop_customers": CUSTOMER_FEED}, "2024-06-02")
    assert first.rows(*SCD_COLUMNS) == [
        {"dt": "2024-06-02", "customer_id": "c1", "valid_from": ts("2024-06-02T10:00:00"), "valid_to": None,
         "is_current": True, "email_hash": h("ann@x.com"), "country": "US"}]
    # pseudonyms only: the raw name, email and phone stay in bronze
    assert first.rows("display_name", "email_masked", "email_domain", "phone_masked") == [
        {"display_name": "Ann L.", "email_masked": "a***@x.com", "email_domain": "x.com", "phone_masked": "***5010"}]
    stored = repr(first.rows(lineage=True))
    assert not any(raw in stored for raw in ("ann@x.com", "Ann@X.com", "Lee", "LEE", "555) 010", "+1555010"))
    history = first.rows(lineage=True)

    batch = run_model(spark, "silver.customers",
                      {"bronze_shop_customers": CUSTOMER_FEED, "silver_customers": history}, DAY, NEXT)
    c1_v1, c1_late, c1_v2 = ts("2024-06-02T10:00:00"), ts("2024-06-02T18:00:00"), ts("2024-06-03T09:00:00")
    c2_v1 = ts("2024-06-03T08:00:00")
    assert batch.rows(*SCD_COLUMNS) == [
        {"dt": DAY, "customer_id": "c1", "valid_from": c1_v1, "valid_to": c1_v2, "is_current": False,
         "email_hash": h("ann@x.com"), "country": "US"},
        {"dt": DAY, "customer_id": "c1", "valid_from": c1_v2, "valid_to": None, "is_current": True,
         "email_hash": h("ann.lee@x.com"), "country": "US"},
        {"dt": DAY, "customer_id": "c2", "valid_from": c2_v1, "valid_to": None, "is_current": True,
         "email_hash": h("bo@x.com"), "country": "US"},
        {"dt": NEXT, "customer_id": "c1", "valid_from": c1_v1, "valid_to": c1_late, "is_current": False,
         "email_hash": h("ann@x.com"), "country": "US"},
        {"dt": NEXT, "customer_id": "c1", "valid_from": c1_late, "valid_to": c1_v2, "is_current": False,
         "email_hash": h("ann@x.com"), "country": "CA"},
        {"dt": NEXT, "customer_id": "c1", "valid_from": c1_v2, "valid_to": None, "is_current": True,
         "email_hash": h("ann.lee@x.com"), "country": "US"},
        {"dt": NEXT, "customer_id": "c2", "valid_from": c2_v1, "valid_to": None, "is_current": True,
         "email_hash": h("bo@x.com"), "country": "US"},
    ]
    assert batch.quarantine("dt", "customer_id") == [{"dt": DAY, "customer_id": "c2",
                                                      "rules": ["parsable_updated_at"]}]
    assert batch.failed_rules == {} and batch.contract.passed, batch.contract.summary()

    # the same days one at a time (a backfill in order), each re-run from the day before: same rows
    day = run_model(spark, "silver.customers",
                    {"bronze_shop_customers": CUSTOMER_FEED, "silver_customers": history}, DAY)
    again = run_model(spark, "silver.customers",
                      {"bronze_shop_customers": CUSTOMER_FEED, "silver_customers": history}, DAY)
    assert day.rows(lineage=True) == again.rows(lineage=True)
    nxt = run_model(spark, "silver.customers",
                    {"bronze_shop_customers": CUSTOMER_FEED, "silver_customers": history + day.rows(lineage=True)},
                    NEXT)
    assert sorted(day.rows(lineage=True) + nxt.rows(lineage=True), key=str) == \
        sorted(batch.rows(lineage=True), key=str)


# --- silver.events -------------------------------------------------------------------------------------
def _event(line, event_id, event_type="page_view", session="s1", ts_="2024-06-03T10:00:00Z", value=None, **kw):
    return bronze(DAY, line, event_id=event_id, event_type=event_type, session_id=session, user_id="u1",
                  event_ts=ts_, page="/home", value=value, **kw)


def test_events_deduplicated_and_typed(spark):
    run = run_model(spark, "silver.events", {"bronze_events_clickstream": [
        _event(1, "e1"), _event(2, "e1", ts_="2024-06-03T10:00:05Z"),  # redelivered: the first copy is kept
        _event(3, "e2", event_type=" Add To Cart ", value="19.90"),
        _event(4, "e3", event_type="click"),
        _event(5, "e4", session=None),
        _event(6, "e5", ts_="soon"),
        _event(7, "e6", event_type="purchase", value="-1"),
    ]}, DAY)
    assert run.rows("event_id", "event_type", "event_value", "event_ts") == [
        {"event_id": "e1", "event_type": "page_view", "event_value": None, "event_ts": ts("2024-06-03T10:00:00")},
        {"event_id": "e2", "event_type": "add_to_cart", "event_value": D("19.90"),
         "event_ts": ts("2024-06-03T10:00:00")},
    ]
    assert run.quarantine("event_id") == [
        {"event_id": "e1", "rules": ["first_delivery"]},  # the repeat of an at-least-once delivery
        {"event_id": "e3", "rules": ["known_event_type"]},
        {"event_id": "e4", "rules": ["session_id_present"]},
        {"event_id": "e5", "rules": ["parsable_timestamp"]},
        {"event_id": "e6", "rules": ["non_negative_value"]},
    ]
    assert run.contract.passed, run.contract.summary()


# --- gold ----------------------------------------------------------------------------------------------
def _sold(order_id, customer, product, amount, qty=1, dt_=DAY, status="placed", region="emea", order_date=None):
    return {"order_id": order_id, "customer_id": customer, "product_id": product, "amount_usd": amount,
            "quantity": qty, "dt": dt_, "status": status, "region": region, "order_date": order_date or dt_}


def test_daily_sales_summary_by_category_and_region(spark):
    run = run_model(spark, "gold.daily_sales_summary", {
        "silver_orders": [
            _sold("o1", "c1", "p1", "20.00", qty=2), _sold("o2", "c2", "p1", "10.00", status="shipped"),
            _sold("o3", "c1", "p2", "30.00", qty=3, region="apac"),
            _sold("o4", "c1", "p1", "99.00", status="cancelled"),
            _sold("o5", "c3", "p9", "5.00"),
        ],
        "silver_products": [
            {"product_id": "p1", "category": "Gadgets", "dt": "2024-06-01"},
            {"product_id": "p1", "category": "Phones", "dt": DAY},  # the newest snapshot wins
            {"product_id": "p2", "category": "Books", "dt": "2024-06-02"},
            {"product_id": "p2", "category": "Comics", "dt": NEXT},  # after the day: not used
        ],
    }, DAY)
    assert run.rows() == [
        {"dt": DAY, "category": "Books", "region": "apac", "transactions": 1, "units": 3,
         "revenue_usd": D("30.00"), "avg_order_value_usd": D("30.00"), "unique_customers": 1},
        {"dt": DAY, "category": "Phones", "region": "emea", "transactions": 2, "units": 3,
         "revenue_usd": D("30.00"), "avg_order_value_usd": D("15.00"), "unique_customers": 2},
        {"dt": DAY, "category": "Unknown", "region": "emea", "transactions": 1, "units": 1,
         "revenue_usd": D("5.00"), "avg_order_value_usd": D("5.00"), "unique_customers": 1},
    ]
    assert run.violations == {"revenue_not_negative": 0, "known_category": 1}
    assert run.contract.passed, run.contract.summary()


def test_customer_analytics_lifetime_value_and_segments(spark):
    run = run_model(spark, "gold.customer_analytics", {"silver_orders": [
        _sold("o1", "c1", "p1", "600.00", dt_="2024-06-01"), _sold("o2", "c1", "p1", "500.00"),
        _sold("o3", "c2", "p1", "6000.00"), _sold("o4", "c2", "p1", "99999.00", status="cancelled"),
        _sold("o6", "c4", "p1", "100.00"),
        _sold("o5", "c3", "p1", "12000.00", dt_=NEXT),
        _sold("o1", "c1", "p1", "700.00", dt_=NEXT, order_date="2024-06-01"),  # redelivered, corrected
    ]}, DAY, NEXT)
    out = [(r["dt"], r["customer_id"], r["total_spent_usd"], r["total_orders"], r["avg_order_value_usd"],
            str(r["first_purchase_date"]), str(r["last_purchase_date"]), r["segment"]) for r in run.rows()]
    assert out == [
        (DAY, "c1", D("1100.00"), 2, D("550.00"), "2024-06-01", DAY, "Medium Value"),
        (DAY, "c2", D("6000.00"), 1, D("6000.00"), DAY, DAY, "High Value"),
        (DAY, "c4", D("100.00"), 1, D("100.00"), DAY, DAY, "Low Value"),
        (NEXT, "c1", D("1200.00"), 2, D("600.00"), "2024-06-01", DAY, "Medium Value"),
        (NEXT, "c2", D("6000.00"), 1, D("6000.00"), DAY, DAY, "High Value"),
        (NEXT, "c3", D("12000.00"), 1, D("12000.00"), NEXT, NEXT, "VIP"),
        (NEXT, "c4", D("100.00"), 1, D("100.00"), DAY, DAY, "Low Value"),
    ]
    assert run.contract.passed, run.contract.summary()


def test_business_metrics_monthly_by_category(spark):
    run = run_model(spark, "gold.business_metrics", {
        "silver_orders": [
            _sold("o1", "c1", "p1", "10.00"), _sold("o2", "c1", "p1", "30.00", dt_=NEXT),
            _sold("o3", "c2", "p2", "5.00", dt_=NEXT), _sold("o4", "c2", "p2", "7.00", status="returned"),
            _sold("o3", "c2", "p2", "6.00", dt_="2024-06-05"),  # a later delivery of o3 replaces it
        ],
        "silver_products": [{"product_id": "p1", "category": "Phones", "dt": DAY},
                            {"product_id": "p2", "category": "Books", "dt": DAY}],
    }, "2024-06-01")
    assert run.rows() == [
        {"dt": "2024-06-01", "category": "Books", "revenue_usd": D("6.00"), "order_count": 1,
         "unique_customers": 1, "avg_order_value_usd": D("6.00")},
        {"dt": "2024-06-01", "category": "Phones", "revenue_usd": D("40.00"), "order_count": 2,
         "unique_customers": 1, "avg_order_value_usd": D("20.00")},
    ]
    assert run.contract.passed, run.contract.summary()


def test_conversion_funnel_strict_steps_and_rates(spark):
    def ev(session, event_type, dt_=DAY):
        return {"event_id": f"{session}-{event_type}", "session_id": session, "event_type": event_type, "dt": dt_}

    run = run_model(spark, "gold.conversion_funnel", {"silver_events": [
        ev("s1", "page_view"), ev("s1", "add_to_cart"), ev("s1", "checkout"), ev("s1", "purchase"),
        ev("s2", "page_view"), ev("s2", "add_to_cart"), ev("s3", "page_view"),
        ev("s4", "add_to_cart"),  # never viewed: a session, but not in the funnel
        ev("s5", "checkout", dt_=NEXT),
    ]}, DAY, NEXT)
    assert run.rows() == [
        {"dt": DAY, "sessions": 4, "views": 3, "add_to_cart": 2, "checkout": 1, "purchase": 1,
         "view_to_cart_rate": 0.6667, "cart_to_checkout_rate": 0.5, "checkout_to_purchase_rate": 1.0,
         "conversion_rate": 0.3333},
        {"dt": NEXT, "sessions": 1, "views": 0, "add_to_cart": 0, "checkout": 0, "purchase": 0,
         "view_to_cart_rate": None, "cart_to_checkout_rate": None, "checkout_to_purchase_rate": None,
         "conversion_rate": None},
    ]
    assert run.violations == {"funnel_narrows": 0, "has_views": 1}
    assert run.contract.passed, run.contract.summary()


# --- silver.crm_contacts / silver.crm_deals ------------------------------------------------------------
def _crm(line, id_, properties: dict, associations: dict | None = None, updated="2024-06-03T10:00:00Z", **kw):
    import json

    return bronze(DAY, line, id=id_, properties=json.dumps(properties),
                  associations=json.dumps(associations or {}), updatedAt=updated, **kw)


def test_crm_contacts_flattened_latest_update_wins(spark, salted):
    run = run_model(spark, "silver.crm_contacts", {"bronze_crm_contacts": [
        _crm(1, "101", {"email": " Ann@X.com ", "firstname": "ANN", "lastname": "lee", "company": "Acme",
                        "lifecyclestage": "Lead", "shop_customer_id": "c1"}, updated="2024-06-03T09:00:00Z"),
        _crm(2, "101", {"email": "ann@x.com", "firstname": "Ann", "lifecyclestage": "customer"},
             updated="2024-06-03T11:00:00Z", archived="false"),
        _crm(3, "102", {"email": "not-an-email"}, archived="TRUE"),
        _crm(4, None, {"email": "ghost@x.com"}),
    ]}, DAY)
    assert run.rows("contact_id", "email_hash", "email_masked", "display_name", "lifecycle_stage", "customer_id",
                    "is_archived") == [
        {"contact_id": "101", "email_hash": h("ann@x.com"), "email_masked": "a***@x.com", "display_name": "Ann",
         "lifecycle_stage": "customer", "customer_id": None, "is_archived": False},
        {"contact_id": "102", "email_hash": h("not-an-email"), "email_masked": None, "display_name": None,
         "lifecycle_stage": None, "customer_id": None, "is_archived": True},
    ]
    assert run.quarantine("email_hash") == [{"email_hash": h("ghost@x.com"), "rules": ["contact_id_present"]}]
    assert "ann@x.com" not in repr(run.valid + run.quarantined)
    assert run.violations["email_well_formed"] == 1
    assert run.contract.passed, run.contract.summary()


def test_crm_deals_amount_usd_as_of_the_day(spark):
    run = run_model(spark, "silver.crm_deals", {
        "bronze_crm_deals": [
            _crm(1, "d1", {"dealname": "Big", "amount": "1000", "deal_currency_code": "eur", "dealstage": "Won",
                           "closedate": "2024-06-10T00:00:00Z"}, {"contacts": {"results": [{"id": "101"}]}}),
            _crm(2, "d2", {"dealname": "Local", "amount": "50.5"}),  # no currency: USD
            _crm(3, "d3", {"dealname": "Yen", "amount": "100", "deal_currency_code": "JPY"}),  # no rate
            _crm(4, "d4", {"dealname": "Refund", "amount": "-5"}),
        ],
        "silver_fx_rates": [_rate("2024-05-31", "EUR", "1.10"), _rate("2024-06-04", "EUR", "2.00")],
    }, DAY)
    assert run.rows("deal_id", "stage", "contact_id", "currency", "amount_usd", "fx_rate_date", "close_date") == [
        {"deal_id": "d1", "stage": "won", "contact_id": "101", "currency": "EUR", "amount_usd": D("1100.00"),
         "fx_rate_date": d("2024-05-31"), "close_date": d("2024-06-10")},
        {"deal_id": "d2", "stage": None, "contact_id": None, "currency": "USD", "amount_usd": D("50.50"),
         "fx_rate_date": d(DAY), "close_date": None},
    ]
    assert run.quarantine("deal_id") == [{"deal_id": "d3", "rules": ["fx_rate_available"]},
                                         {"deal_id": "d4", "rules": ["non_negative_amount"]}]
    assert run.contract.passed, run.contract.summary()


# --- contracts as gates ----------------------------------------------------------------------------------
def test_contract_catches_what_rules_let_through(spark):
    """A duplicated key and an unknown status slip past rules that only warn: the contract must refuse."""
    from lakehouse.pipeline.registry import get_spec
    from lakehouse.quality.contracts import evaluate_contract

    run = run_model(spark, "gold.conversion_funnel", {"silver_events": [
        {"event_id": "e1", "session_id": "s1", "event_type": "page_view", "dt": DAY}]}, DAY)
    doubled = run.valid_frame.unionByName(run.valid_frame)
    result = evaluate_contract(doubled, get_spec("gold.conversion_funnel"))
    assert not result.passed
    assert [(f.check, f.failed_rows) for f in result.failures] == [("unique(dt)", 2)]


# --- the registry ----------------------------------------------------------------------------------------
def test_every_commerce_model_has_sql_contract_rules_and_a_model_test():
    from pathlib import Path

    from lakehouse.config import Settings
    from lakehouse.engine.sql import sql_dir
    from lakehouse.pipeline.registry import specs_in

    models = [s for s in specs_in(domain="commerce") if s.layer != "bronze"]
    assert len(models) == 11
    source = Path(__file__).read_text()
    root = sql_dir(Settings.from_env())
    for spec in models:
        assert (root / spec.sql_path).is_file(), spec.id
        assert spec.contract is not None and spec.rules, spec.id
        assert f'"{spec.id}"' in source, f"{spec.id} has no model test"
