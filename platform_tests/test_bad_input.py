"""A corpus of malformed landing files: each gets a clear error or a quarantine row with its reason.

Stage 1 (bronze): files that cannot be parsed line by line. Stage 2 (silver.orders model): rows that parse
but are wrong (null keys, negative amounts, unknown currency, dates out of range, ...). Row accounting is
asserted for every file: data lines = bronze rows + quarantined lines.
"""
from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pytest
from tables_testing import table_content

from lakehouse.ingest.readers import read_landing_partition
from lakehouse.pipeline.registry import get_spec

DT = "2024-06-03"
ORDERS, CLICKS = get_spec("bronze.shop_orders"), get_spec("bronze.events_clickstream")
H = "order_id,customer_id,product_id,order_ts,quantity,unit_price,currency,status,region,payment_method"
OK = "O1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,europe,card"
EV = {"event_id": "e1", "event_ts": "2024-06-03T10:00:00Z", "event_type": "page_view", "user_id": "u1",
      "session_id": "s1", "page": "/", "value": None}


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def jl(*objs) -> bytes:
    return ("\n".join(o if isinstance(o, str) else json.dumps(o) for o in objs) + "\n").encode()


# name, spec, file name, payload, bronze rows, quarantined, reason fragment
BRONZE_CASES = [
    ("truncated_line", ORDERS, "a.csv", csv(H, OK, "O2,C2,P2,2024-06"), 1, 1, "expected 10 fields, found 4"),
    ("too_many_fields", ORDERS, "a.csv", csv(H, OK + ",extra,more"), 0, 1, "expected 10 fields, found 12"),
    ("wrong_delimiter", ORDERS, "a.csv", csv(H.replace(",", ";"), OK.replace(",", ";")), 0, 1, "wrong delimiter"),
    ("tab_delimited", ORDERS, "a.csv", csv(H.replace(",", "\t"), OK.replace(",", "\t")), 0, 1, "wrong delimiter"),
    ("latin1_bytes", ORDERS, "a.csv", csv(H) + OK.replace("europe", "europé").encode("latin-1") + b"\n", 0, 1, "not valid UTF-8"),
    ("utf16_file", ORDERS, "a.csv", (H + "\n" + OK + "\n").encode("utf-16"), 0, 1, None),
    ("bom", ORDERS, "a.csv", b"\xef\xbb\xbf" + csv(H, OK), 1, 0, None),
    ("crlf", ORDERS, "a.csv", csv(H, OK).replace(b"\n", b"\r\n"), 1, 0, None),
    ("empty_file", ORDERS, "a.csv", b"", 0, 0, None),
    ("header_only", ORDERS, "a.csv", csv(H), 0, 0, None),
    ("blank_lines", ORDERS, "a.csv", csv(H, "", OK, "   ", ""), 1, 0, None),
    ("quoted_comma", ORDERS, "a.csv", csv(H, 'O1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,"europe, west",card'), 1, 0, None),
    ("unbalanced_quote", ORDERS, "a.csv", csv(H, 'O1,C1,P1,"2024-06-03,2,9.99,USD,placed,europe,card'), 0, 1, "expected 10 fields"),
    ("missing_column", ORDERS, "a.csv", csv(H.rsplit(",", 1)[0], OK.rsplit(",", 1)[0]), 1, 0, None),
    ("extra_column", ORDERS, "a.csv", csv(H + ",coupon", OK + ",SAVE5"), 1, 0, None),
    ("renamed_column", ORDERS, "a.csv", csv(H.replace("unit_price", "price"), OK), 1, 0, None),
    ("huge_field", ORDERS, "a.csv", csv(H, OK.replace("card", "x" * 1_000_000)), 1, 0, None),
    ("gzip_not_gzip", ORDERS, "a.csv.gz", b"plain text pretending", 0, 1, "not a readable gzip file"),
    ("gzip_truncated", ORDERS, "a.csv.gz", gzip.compress(csv(H, OK, OK))[:-12], 0, 1, "not a readable gzip file"),
    ("gzip_ok", ORDERS, "a.csv.gz", gzip.compress(csv(H, OK)), 1, 0, None),
    ("binary_garbage", ORDERS, "a.csv", csv(H) + bytes(range(128, 256)) + b"\n", 0, 1, "not valid UTF-8"),
    ("invalid_json_line", CLICKS, "e.jsonl", jl(EV, '{"event_id": "e2", '), 1, 1, "invalid JSON"),
    ("json_array_line", CLICKS, "e.jsonl", jl(EV, "[1, 2]"), 1, 1, "expected a JSON object, found list"),
    ("json_scalar_line", CLICKS, "e.jsonl", jl(EV, "42"), 1, 1, "expected a JSON object, found int"),
    ("json_missing_keys", CLICKS, "e.jsonl", jl({"event_id": "e9"}), 1, 0, None),
    ("json_nested_extra", CLICKS, "e.jsonl", jl({**EV, "ctx": {"device": {"os": "ios"}}}), 1, 0, None),
    ("json_trailing_comma", CLICKS, "e.jsonl", jl('{"event_id": "e3",}'), 0, 1, "invalid JSON"),
    ("json_nan", CLICKS, "e.jsonl", jl('{"event_id": "e4", "value": NaN}'), 1, 0, None),
    ("json_gzip", CLICKS, "e.jsonl.gz", gzip.compress(jl(EV, EV)), 2, 0, None),
    ("json_not_gzip", CLICKS, "e.jsonl.gz", jl(EV), 0, 1, "not a readable gzip file"),
    ("json_empty", CLICKS, "e.jsonl", b"", 0, 0, None),
    ("json_bom", CLICKS, "e.jsonl", b"\xef\xbb\xbf" + jl(EV), 1, 0, None),
    ("quoted_embedded_newline", ORDERS, "a.csv",
     csv(H, 'O1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,"north\nwest",card', OK), 2, 0, None),
    ("crlf_embedded_newline", ORDERS, "a.csv",
     csv(H, 'O1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,"north\nwest",card').replace(b"\n", b"\r\n"), 1, 0, None),
    ("null_bytes", ORDERS, "a.csv", csv(H, OK.replace("card", "ca\x00rd")), 0, 1, "contains NUL bytes"),
    ("gzip_without_gz_name", ORDERS, "a.csv", gzip.compress(csv(H, OK)), 0, 1, "rename it to *.gz"),
    ("header_not_utf8", ORDERS, "a.csv", H.replace("region", "r\xe9gion").encode("latin-1") + b"\n" + csv(OK), 0, 1,
     "not valid UTF-8"),
    ("wrong_extension", ORDERS, "a.json", csv(H, OK), 0, 1, "is not a csv file"),
    # rows that parse: bronze keeps them as received strings, silver.orders judges them (see below)
    ("wrong_types", ORDERS, "a.csv", csv(H, OK.replace(",2,9.99,", ",two,nine,")), 1, 0, None),
    ("null_key", ORDERS, "a.csv", csv(H, OK.replace("O1,", ",", 1)), 1, 0, None),
    ("duplicate_keys", ORDERS, "a.csv", csv(H, OK, OK), 2, 0, None),
    ("negative_amount", ORDERS, "a.csv", csv(H, OK.replace("9.99", "-9.99")), 1, 0, None),
    ("future_date", ORDERS, "a.csv", csv(H, OK.replace("2024-06-03", "2099-01-01")), 1, 0, None),
    ("ancient_date", ORDERS, "a.csv", csv(H, OK.replace("2024-06-03", "1970-01-01")), 1, 0, None),
    ("unknown_currency", ORDERS, "a.csv", csv(H, OK.replace("USD", "XXX")), 1, 0, None),
]


def _land(settings, spec, name, payload) -> None:
    folder = Path(urlparse(settings.landing).path) / spec.landing.prefix / f"dt={DT}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(payload)


@pytest.mark.parametrize("case", BRONZE_CASES, ids=[c[0] for c in BRONZE_CASES])
def test_bronze_gives_each_bad_file_a_reason(lakehouse_env, case):
    _, spec, name, payload, rows, quarantined, reason = case
    _land(lakehouse_env, spec, name, payload)
    result = read_landing_partition(lakehouse_env, spec, DT)
    assert (result.table.num_rows, result.quarantine.num_rows) == (rows, quarantined)
    for stats in result.files:  # nothing vanishes: every data line is a row or a quarantine entry
        assert stats.error or stats.lines_read == stats.rows_ok + stats.rows_quarantined
    reasons = result.quarantine.column("reason").to_pylist()
    assert all(r and len(r) > 10 for r in reasons)  # a sentence, not a stack trace or an empty field
    if reason:
        assert any(reason in r for r in reasons), reasons


def test_schema_drift_is_reported_not_lost(lakehouse_env):
    _land(lakehouse_env, ORDERS, "a.csv", csv(H.replace("unit_price", "price"), OK))
    result = read_landing_partition(lakehouse_env, ORDERS, DT)
    row = result.table.to_pylist()[0]
    assert row["unit_price"] is None and json.loads(row["_rescued_data"]) == {"price": "9.99"}
    assert result.files[0].missing_columns == {"unit_price": 1} and result.files[0].extra_columns == ["price"]


# rows that parse but are wrong: silver.orders quarantines each with the rule it broke
SILVER_CASES = [
    ("null_key", {"order_id": None}, "order_id_present"),
    ("null_customer", {"customer_id": None}, "customer_id_present"),
    ("negative_quantity", {"quantity": "-3"}, "positive_quantity"),
    ("zero_price", {"unit_price": "0"}, "positive_unit_price"),
    ("negative_price", {"unit_price": "-9.99"}, "positive_unit_price"),
    ("wrong_type_quantity", {"quantity": "two"}, "positive_quantity"),
    ("unknown_currency", {"currency": "XXX"}, "known_currency"),
    ("unparsable_timestamp", {"order_ts": "yesterday"}, "parsable_timestamp"),
    ("unknown_status", {"status": "teleported"}, "known_status"),
    ("ancient_date_has_no_rate", {"order_ts": "1999-01-01T00:00:00Z", "currency": "EUR"}, "fx_rate_available"),
    ("duplicate_key", {"order_id": "DUP"}, "latest_delivery"),
]


def test_silver_quarantines_wrong_rows_with_their_rule(spark):
    from platform_tests.model_testing import run_model

    base = dict(zip(H.split(","), OK.split(",")))
    bronze = []
    for i, (name, change, _) in enumerate(SILVER_CASES):
        row = {**base, "order_id": f"O-{name}", **change, "_source_file": "f.csv", "_line_number": i + 2, "dt": DT}
        bronze.append(row)
    bronze.append({**base, "order_id": "DUP", "_source_file": "f.csv", "_line_number": 99, "dt": DT})  # re-sent
    bronze.append({**base, "order_id": "GOOD", "_source_file": "f.csv", "_line_number": 100, "dt": DT})
    fx = [{"rate_date": DT, "currency": "EUR", "usd_rate": "1.1", "dt": DT}]
    run = run_model(spark, "silver.orders", {"bronze_shop_orders": bronze, "silver_fx_rates": fx}, DT, DT)
    published = {r["order_id"] for r in run.rows("order_id")}
    assert published == {"GOOD", "DUP"}
    quarantined = {(q["order_id"], tuple(q["rules"])) for q in run.quarantine("order_id")}
    for name, change, rule in SILVER_CASES:
        order_id = change.get("order_id", f"O-{name}") if "order_id" in change else f"O-{name}"
        assert any(oid == order_id and rule in rules for oid, rules in quarantined), (name, quarantined)
    assert len(run.rows("order_id")) + len(run.quarantine("order_id")) == len(bronze)


# --- the same kinds of bad input through Dagster: one landed day holds them all -------------------------

A, B = "2024-06-03", "2024-06-04"
CHAIN = ["bronze.shop_orders", "bronze.fx_rates", "silver.fx_rates", "silver.orders"]


def _row(order_id, **change) -> str:
    row = {**dict(zip(H.split(","), OK.split(","))), "order_id": order_id, "order_ts": f"{B}T10:00:00Z", **change}
    return ",".join(row[c] for c in H.split(","))


# order_id -> the silver.orders rule that must quarantine it
BAD_ROWS = {
    "B-neg-qty": (_row("B-neg-qty", quantity="-3"), "positive_quantity"),
    "B-neg-price": (_row("B-neg-price", unit_price="-9.99"), "positive_unit_price"),
    "B-wrong-type": (_row("B-wrong-type", quantity="two"), "positive_quantity"),
    "B-currency": (_row("B-currency", currency="XXX"), "known_currency"),
    "B-status": (_row("B-status", status="teleported"), "known_status"),
    "B-future": (_row("B-future", order_ts="2099-01-01T00:00:00Z"), "plausible_order_date"),
    "B-ancient": (_row("B-ancient", order_ts="1970-01-01T00:00:00Z"), "plausible_order_date"),
    "B-no-ts": (_row("B-no-ts", order_ts="yesterday"), "parsable_timestamp"),
    "B-no-customer": (_row("B-no-customer", customer_id=""), "customer_id_present"),
    "B-dup": (_row("B-dup"), "latest_delivery"),  # sent twice: the earlier copy is set aside
}


def _run(defs, instance, day):
    from dagster import AssetKey

    from lakehouse.runs import RANGE_END, RANGE_START

    result = defs.resolve_job_def("lakehouse_daily").execute_in_process(
        instance=instance, asset_selection=[AssetKey(get_spec(t).asset_key_path) for t in CHAIN],
        tags={RANGE_START: day, RANGE_END: day}, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    meta = {}
    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        meta[".".join(mat.asset_key.path)] = {k: v.value for k, v in mat.metadata.items()}
    return meta


def _records(payload: bytes) -> int:
    """Data records of a CSV as Python's csv module counts them (quoted newlines are one record)."""
    import csv as csvlib
    import io

    return sum(1 for r in csvlib.reader(io.StringIO(payload.decode("utf-8", "replace"))) if any(r)) - 1


@pytest.mark.slow
def test_a_bad_day_through_dagster_quarantines_each_row_and_leaves_published_days_alone(lakehouse_env):
    from dagster import DagsterInstance

    from lakehouse.definitions import build_definitions
    from lakehouse.dev.generate.commerce import land_commerce

    land_commerce(lakehouse_env, date.fromisoformat(A), 2, 20, 7)
    defs, instance = build_definitions(), DagsterInstance.ephemeral()
    _run(defs, instance, A)
    published = {t: table_content(t, partitions=[A]) for t in ("bronze.shop_orders", "silver.orders")}
    assert published["silver.orders"].num_rows > 0

    # day B: the generated feed plus one file holding every kind of wrong row, a truncated line, a quoted
    # field with a newline in it, and two files that cannot be read at all
    folder = Path(urlparse(lakehouse_env.landing).path) / ORDERS.landing.prefix / f"dt={B}"
    good_b = sum(_records(f.read_bytes()) for f in folder.glob("*.csv"))
    bad = csv(H, *(line for line, _ in BAD_ROWS.values()), _row("B-dup"),
              _row("B-newline", region='"north\nwest"'), "B-cut,C1,P1,2024-06")
    (folder / "zz-bad.csv").write_bytes(bad)
    (folder / "zz-broken.csv.gz").write_bytes(b"this is not gzip")
    (folder / "zz-utf16.csv").write_bytes((H + "\n" + OK + "\n").encode("utf-16"))
    meta = _run(defs, instance, B)

    # bronze: every record is a row or a quarantine row; the two unreadable files are one row each
    bronze, bronze_q = table_content("bronze.shop_orders", partitions=[B]), table_content("bronze.shop_orders", True, [B])
    assert bronze.num_rows + bronze_q.num_rows == good_b + _records(bad) + 2
    reasons = bronze_q.column("reason").to_pylist()
    assert len(reasons) == 3 and any("expected 10 fields, found 4" in r for r in reasons), reasons
    assert any("zz-broken.csv.gz" in r and "not a readable gzip file" in r for r in reasons), reasons
    assert any("zz-utf16.csv" in r and "UTF-16" in r for r in reasons), reasons
    assert "north\nwest" in bronze.column("region").to_pylist()

    # silver.orders: each wrong row is quarantined with the rule it broke; accounting holds
    silver, silver_q = table_content("silver.orders", partitions=[B]), table_content("silver.orders", True, [B])
    rules = {}
    for q in silver_q.to_pylist():
        rules.setdefault(json.loads(q["record"]).get("order_id"), set()).update(q["rules"])
    for order_id, (_, rule) in BAD_ROWS.items():
        assert rule in rules.get(order_id, set()), (order_id, rules.get(order_id))
    ids = silver.column("order_id").to_pylist()
    assert "B-newline" in ids and ids.count("B-dup") == 1
    assert not set(ids) & (set(BAD_ROWS) - {"B-dup"})
    m = meta["silver.orders"]
    assert m["rows_in"] == bronze.num_rows == m["rows_published"] + m["rows_quarantined"]
    assert silver.num_rows + silver_q.num_rows == bronze.num_rows

    # the day published before is untouched by day B
    for table, before in published.items():
        assert table_content(table, partitions=[A]).equals(before), table

    # a rejected file landed late into the published day: re-running it quarantines the file, and what the
    # day published does not change
    late = Path(urlparse(lakehouse_env.landing).path) / ORDERS.landing.prefix / f"dt={A}" / "zz-late.csv.gz"
    late.write_bytes(b"PK\x03\x04 a zip, not a gzip")
    _run(defs, instance, A)
    for table, before in published.items():
        assert table_content(table, partitions=[A]).equals(before), table
    late_reasons = table_content("bronze.shop_orders", True, [A]).column("reason").to_pylist()
    assert any("zz-late.csv.gz" in r for r in late_reasons), late_reasons
