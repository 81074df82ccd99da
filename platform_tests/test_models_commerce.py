"""Model tests for every commerce SQL file: tiny input rows -> exact output rows and rule outcomes."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from model_testing import run_model

DAY, NEXT = "2024-06-03", "2024-06-04"


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
        {"rules": ["known_currency"], "currency": "XXX"},
        {"rules": ["positive_rate"], "currency": "CHF"},
        {"rules": ["rate_date_present"], "currency": "JPY"},
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
        {"rules": ["order_id_present"], "order_id": None},
        {"rules": ["parsable_timestamp", "fx_rate_available"], "order_id": "o7"},
        {"rules": ["positive_quantity"], "order_id": "o4"},
        {"rules": ["positive_unit_price"], "order_id": "o5"},
        {"rules": ["known_currency", "fx_rate_available"], "order_id": "o6"},
        {"rules": ["fx_rate_available"], "order_id": "o8"},
        {"rules": ["fx_rate_available"], "order_id": "o9"},
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
