"""A corpus of malformed landing files: each gets a clear error or a quarantine row with its reason.

Stage 1 (bronze): files that cannot be parsed line by line. Stage 2 (silver.orders model): rows that parse
but are wrong (null keys, negative amounts, unknown currency, dates out of range, ...). Row accounting is
asserted for every file: data lines = bronze rows + quarantined lines.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

from lakehouse.ingest.readers import read_landing_partition
from lakehouse.tables.registry import get_spec

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
