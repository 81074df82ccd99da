"""Landing files -> bronze rows or quarantine rows, on real files; every line is accounted for."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

from lakehouse.ingest.landing import list_landing
from lakehouse.ingest.readers import read_landing_partition
from lakehouse.tables.registry import get_spec

DT = "2024-06-03"
ORDERS = get_spec("bronze.shop_orders")
CLICKS = get_spec("bronze.events_clickstream")
HEADER = "order_id,customer_id,product_id,order_ts,quantity,unit_price,currency,status,region,payment_method"
GOOD = "O1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,europe,card"


def _land(settings, spec, name: str, payload: bytes) -> Path:
    folder = Path(urlparse(settings.landing).path) / spec.landing.prefix / f"dt={DT}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(payload)
    return folder / name


def _read(settings, spec=ORDERS):
    result = read_landing_partition(settings, spec, DT)
    for stats in result.files:  # accounting per file: every data line is a row or a quarantine entry
        assert stats.lines_read == stats.rows_ok + stats.rows_quarantined or stats.error
    return result


def test_clean_csv_keeps_values_as_received_with_lineage(lakehouse_env):
    _land(lakehouse_env, ORDERS, "a.csv", f"{HEADER}\n{GOOD}\nO2,C2,P2,2024-06-03 11:00:00,1,,EUR,Placed , APAC,paypal\n".encode())
    result = _read(lakehouse_env)
    rows = result.table.to_pylist()
    assert [r["order_id"] for r in rows] == ["O1", "O2"]
    assert rows[1]["status"] == "Placed " and rows[1]["unit_price"] is None  # as received; empty -> null
    assert rows[0]["_line_number"] == 2 and rows[0]["_source_file"].endswith("/a.csv")
    assert rows[0]["dt"] == DT and rows[0]["_rescued_data"] is None
    assert result.quarantine.num_rows == 0


def test_short_lines_go_to_quarantine_with_line_number_and_reason(lakehouse_env):
    _land(lakehouse_env, ORDERS, "a.csv", f"{HEADER}\n{GOOD}\nO2,C2,P2\n\n{GOOD.replace('O1', 'O3')}\n".encode())
    result = _read(lakehouse_env)
    assert result.table.num_rows == 2
    bad = result.quarantine.to_pylist()
    assert len(bad) == 1
    assert bad[0]["line_number"] == 3 and bad[0]["reason"] == "expected 10 fields, found 3"
    assert bad[0]["record"] == "O2,C2,P2" and bad[0]["source_table"] == "bronze.shop_orders"


def test_schema_drift_rescues_extra_columns_and_counts_missing_ones(lakehouse_env):
    header = HEADER.replace(",payment_method", "") + ",coupon_code"
    _land(lakehouse_env, ORDERS, "a.csv", f"{header}\nO1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,europe,SAVE10\n".encode())
    result = _read(lakehouse_env)
    row = result.table.to_pylist()[0]
    assert json.loads(row["_rescued_data"]) == {"coupon_code": "SAVE10"}
    assert row["payment_method"] is None
    assert result.files[0].missing_columns == {"payment_method": 1}
    assert result.files[0].extra_columns == ["coupon_code"]


@pytest.mark.parametrize("name, payload, rows, reason", [
    ("bom.csv", b"\xef\xbb\xbf" + f"{HEADER}\n{GOOD}\n".encode(), 1, None),
    ("crlf.csv", f"{HEADER}\r\n{GOOD}\r\n".encode(), 1, None),
    ("header_only.csv", f"{HEADER}\n".encode(), 0, None),
    ("empty.csv", b"", 0, None),
    ("latin1.csv", f"{HEADER}\n".encode() + GOOD.replace("europe", "europé").encode("latin-1") + b"\n", 0, "not valid UTF-8"),
    ("semicolons.csv", (HEADER.replace(",", ";") + "\n" + GOOD.replace(",", ";") + "\n").encode(), 0, "wrong delimiter"),
    ("fake.csv.gz", b"this is not gzip", 0, "not a readable gzip file"),
    ("real.csv.gz", gzip.compress(f"{HEADER}\n{GOOD}\n".encode()), 1, None),
])
def test_awkward_files(lakehouse_env, name, payload, rows, reason):
    _land(lakehouse_env, ORDERS, name, payload)
    result = _read(lakehouse_env)
    assert result.table.num_rows == rows
    if reason:
        assert result.quarantine.num_rows == 1
        assert reason in result.quarantine.column("reason")[0].as_py()
    else:
        assert result.quarantine.num_rows == 0


def test_jsonl_keeps_nested_values_as_json_and_quarantines_bad_lines(lakehouse_env):
    lines = [
        json.dumps({"event_id": "e1", "event_ts": "2024-06-03T10:00:00Z", "event_type": "page_view", "user_id": None,
                    "session_id": "s1", "page": "/", "value": None, "device": {"os": "ios"}}),
        '{"event_id": "e2", "event_type": ',
        "[1, 2, 3]",
        json.dumps({"event_id": "e3", "value": 12.5}),
    ]
    _land(lakehouse_env, CLICKS, "c.jsonl.gz", gzip.compress(("\n".join(lines) + "\n").encode()))
    result = _read(lakehouse_env, CLICKS)
    rows = result.table.to_pylist()
    assert [r["event_id"] for r in rows] == ["e1", "e3"]
    assert json.loads(rows[0]["_rescued_data"]) == {"device": {"os": "ios"}}
    assert rows[1]["value"] == "12.5" and rows[1]["session_id"] is None
    reasons = [(q["line_number"], q["reason"]) for q in result.quarantine.to_pylist()]
    assert reasons[0][0] == 2 and reasons[0][1].startswith("invalid JSON")
    assert reasons[1] == (3, "expected a JSON object, found list")
    assert result.files[0].missing_columns["session_id"] == 1


def test_listing_skips_files_still_being_written(lakehouse_env):
    _land(lakehouse_env, ORDERS, "done.csv", f"{HEADER}\n{GOOD}\n".encode())
    _land(lakehouse_env, ORDERS, "busy.csv.tmp", f"{HEADER}\n{GOOD}\n".encode())
    _land(lakehouse_env, ORDERS, "_partial.csv", f"{HEADER}\n".encode())
    _land(lakehouse_env, ORDERS, "zero.csv", b"")
    names = [f.name for f in list_landing(lakehouse_env)]
    assert names == ["done.csv"]
    assert list_landing(lakehouse_env)[0].dt == DT and list_landing(lakehouse_env)[0].entity == "orders"


def test_reads_landing_files_from_s3(s3_lakehouse_env):
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_lakehouse_env.aws_endpoint_url, region_name="us-east-1")
    bucket = s3_lakehouse_env.landing.split("/")[2]
    s3.put_object(Bucket=bucket, Key=f"landing/shop/orders/dt={DT}/a.csv", Body=f"{HEADER}\n{GOOD}\nbroken\n".encode())
    result = _read(s3_lakehouse_env)
    assert result.table.num_rows == 1 and result.quarantine.num_rows == 1
    assert result.table.column("_source_file")[0].as_py() == f"s3://{bucket}/landing/shop/orders/dt={DT}/a.csv"
