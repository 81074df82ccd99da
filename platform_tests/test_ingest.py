"""Landing files -> bronze rows or quarantine rows, on real files; every line is accounted for."""
from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from lakehouse.ingest import readers
from lakehouse.ingest.landing import LandingZone, is_complete, parse_key
from lakehouse.ingest.readers import bronze_schema, read_landing_partition
from lakehouse.pipeline.registry import get_spec
from lakehouse.storage.filesystem import filesystem_for

DT = "2024-06-03"
ORDERS = get_spec("bronze.shop_orders")
CLICKS = get_spec("bronze.events_clickstream")
CONTACTS = get_spec("bronze.crm_contacts")
HEADER = "order_id,customer_id,product_id,order_ts,quantity,unit_price,currency,status,region,payment_method"
GOOD = "O1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,europe,card"
EVENT = {"event_id": "e1", "event_ts": "2024-06-03T10:00:00Z", "event_type": "page_view", "user_id": "u1",
         "session_id": "s1", "page": "/", "value": None}


def _land(settings, spec, name: str, payload: bytes, dt: str = DT) -> Path:
    folder = Path(unquote(urlparse(settings.landing).path)) / spec.landing.prefix / f"dt={dt}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(payload)
    return folder / name


def _data_lines(payload: bytes, csv_file: bool) -> int:
    """Non-blank physical lines (minus a CSV header), counted without the reader."""
    lines = [ln for ln in payload.split(b"\n") if ln.strip()]
    return max(0, len(lines) - (1 if csv_file and lines else 0))


def _read(settings, spec=ORDERS):
    result = read_landing_partition(settings, spec, DT)
    assert result.table.schema == bronze_schema(spec)
    assert result.quarantine.num_rows == sum(f.rows_quarantined for f in result.files)
    assert result.table.num_rows == sum(f.rows_ok for f in result.files)
    for stats in result.files:
        if stats.error:  # an unreadable file: exactly one quarantine row, no bronze rows
            assert (stats.rows_ok, stats.rows_quarantined) == (0, 1)
        else:
            assert stats.lines_read == stats.rows_ok + stats.rows_quarantined
    return result


def _only_file(result):
    assert len(result.files) == 1
    return result.files[0]


# ------------------------------------------------------------------------------------------ clean input

def test_clean_csv_keeps_values_as_received_with_lineage(lakehouse_env):
    at = datetime(2024, 6, 4, 1, 2, 3, tzinfo=timezone.utc)
    payload = f"{HEADER}\n{GOOD}\nO2,C2,P2,2024-06-03 11:00:00,007,,EUR,Placed , APAC,paypal\n".encode()
    _land(lakehouse_env, ORDERS, "a.csv", payload)
    result = read_landing_partition(lakehouse_env, ORDERS, DT, ingested_at=at)
    rows = result.table.to_pylist()
    assert [r["order_id"] for r in rows] == ["O1", "O2"]
    # no type inference, no trimming: "007" stays "007", "Placed " keeps its space; an empty field is null
    assert rows[1]["quantity"] == "007" and rows[1]["status"] == "Placed " and rows[1]["region"] == " APAC"
    assert rows[1]["unit_price"] is None
    assert [r["_line_number"] for r in rows] == [2, 3]
    assert rows[0]["_source_file"] == f"{lakehouse_env.landing}/shop/orders/dt={DT}/a.csv"
    assert rows[0]["dt"] == DT and rows[0]["_rescued_data"] is None and rows[0]["_ingested_at"] == at
    assert result.quarantine.num_rows == 0
    stats = _only_file(result)
    assert (stats.lines_read, stats.rows_ok, stats.rows_quarantined, stats.error) == (2, 2, 0, None)
    assert stats.missing_columns == {} and stats.extra_columns == []
    assert result.table.column_names == [c.name for c in ORDERS.columns] + [
        "_rescued_data", "_source_file", "_line_number", "_ingested_at", "dt"]


def test_csv_fields_are_those_the_csv_module_reads(lakehouse_env):
    """Lines without quotes take a faster split than the csv module; both kinds must give its fields."""
    import csv

    lines = [GOOD, "O2,,P2,,1,,USD,,,", 'O3,C3,"P,3",t,1,"",USD," placed ",eu,"say ""hi"""',
             "O4, C4 ,P4,t,1,2,USD,placed,eu\tx,card", 'O5,C5,P5,t,1,2,USD,placed,eu,"ca\rrd"',
             "O6,C6,P6,t,1,2,USD,placed,\u00e9u,card", "O7,C7,P7,t,1,2,USD,placed,eu,ca\rrd",
             "O8,C8,P8,t,1,2,USD,placed,eu,card,extra", '"O9",C9,P9,t,1,2,USD,placed,eu,card']
    _land(lakehouse_env, ORDERS, "a.csv", (HEADER + "\n" + "\n".join(lines) + "\n").encode())
    result = _read(lakehouse_env)
    got = {r["_line_number"]: [r[c] for c in HEADER.split(",")] for r in result.table.to_pylist()}
    refused = {r["line_number"]: r["reason"] for r in result.quarantine.to_pylist()}
    for number, line in enumerate(lines, start=2):
        try:
            fields = next(csv.reader([line]))
        except csv.Error as exc:
            assert refused.pop(number) == f"unparseable CSV line: {exc}"
            continue
        if len(fields) != len(HEADER.split(",")):
            assert refused.pop(number) == f"expected 10 fields, found {len(fields)}"
            continue
        assert got.pop(number) == [f if f != "" else None for f in fields], line
    assert not got and not refused


def test_clean_jsonl_keeps_scalars_as_text_and_nested_values_as_json(lakehouse_env):
    contact = {"id": 901, "properties": {"email": "a@b.c", "score": 1.5, "tags": ["x", "y"]},
               "associations": {"companies": {"results": [{"id": "co-1"}]}},
               "createdAt": "2024-06-01T00:00:00Z", "updatedAt": "2024-06-03T00:00:00Z", "archived": False}
    text = json.dumps(contact) + "\n" + '{"id": "902", "properties": {}, "archived": true, "score": 19.90}\n'
    _land(lakehouse_env, CONTACTS, "c.jsonl", text.encode())
    result = _read(lakehouse_env, CONTACTS)
    first, second = result.table.to_pylist()
    assert first["id"] == "901" and first["archived"] == "false"
    assert json.loads(first["properties"]) == contact["properties"]
    assert json.loads(first["associations"]) == contact["associations"]
    assert second["archived"] == "true" and second["properties"] == "{}" and second["createdAt"] is None
    assert json.loads(second["_rescued_data"]) == {"score": 19.9}
    stats = _only_file(result)
    assert stats.missing_columns == {"associations": 1, "createdAt": 1, "updatedAt": 1}
    assert stats.extra_columns == ["score"]


def test_json_numbers_keep_their_exact_text(lakehouse_env):
    _land(lakehouse_env, CLICKS, "e.jsonl", b'{"event_id": 12345678901234567890, "value": 19.90, "page": 1e3}\n')
    row = _read(lakehouse_env, CLICKS).table.to_pylist()[0]
    assert (row["event_id"], row["value"], row["page"]) == ("12345678901234567890", "19.90", "1e3")


def test_several_files_of_one_day_are_read_together(lakehouse_env):
    _land(lakehouse_env, ORDERS, "a.csv", f"{HEADER}\n{GOOD}\n".encode())
    _land(lakehouse_env, ORDERS, "b.csv.gz", gzip.compress(f"{HEADER}\n{GOOD.replace('O1', 'O2')}\n".encode()))
    _land(lakehouse_env, ORDERS, "c.csv", f"{HEADER}\n{GOOD.replace('O1', 'O9')}\n".encode(), dt="2024-06-04")
    result = _read(lakehouse_env)
    assert sorted(result.table.column("order_id").to_pylist()) == ["O1", "O2"]
    assert len(result.files) == 2


# ------------------------------------------------------------------------------------------ dirty input

CSV_CASES = [
    # name, payload, bronze rows, quarantined, reason fragment, quarantined line numbers
    ("too_few_fields.csv", f"{HEADER}\n{GOOD}\nO2,C2,P2\n\n{GOOD}\n".encode(), 2, 1, "expected 10 fields, found 3", [3]),
    ("too_many_fields.csv", f"{HEADER}\n{GOOD},x\n".encode(), 0, 1, "expected 10 fields, found 11", [2]),
    ("bom.csv", b"\xef\xbb\xbf" + f"{HEADER}\n{GOOD}\n".encode(), 1, 0, None, []),
    ("crlf.csv", f"{HEADER}\r\n{GOOD}\r\n".encode(), 1, 0, None, []),
    ("no_final_newline.csv", f"{HEADER}\n{GOOD}\n{GOOD}".encode(), 2, 0, None, []),
    ("header_only.csv", f"{HEADER}\n".encode(), 0, 0, None, []),
    ("blank_lines.csv", f"\n{HEADER}\n\n  \n{GOOD}\n\n".encode(), 1, 0, None, []),
    ("latin1.csv", f"{HEADER}\n{GOOD}\n".encode() + GOOD.replace("europe", "europé").encode("latin-1") + b"\n",
     1, 1, "not valid UTF-8", [3]),
    ("quoted.csv", f'{HEADER}\nO1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,"europe, west",card\n'.encode(),
     1, 0, None, []),
    ("stray_quote.csv", f'{HEADER}\nO1,C1,P1,"2024-06-03,2,9.99,USD,placed,europe,card\n{GOOD}\n'.encode(),
     1, 1, "expected 10 fields, found 4", [2]),
    ("semicolons.csv", (HEADER.replace(",", ";") + "\n" + GOOD.replace(",", ";") + "\n").encode(),
     0, 1, "wrong delimiter", [2]),
]


@pytest.mark.parametrize("name, payload, rows, quarantined, reason, lines", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_dirty_csv_lines_are_quarantined_and_counted(lakehouse_env, name, payload, rows, quarantined, reason, lines):
    _land(lakehouse_env, ORDERS, name, payload)
    result = _read(lakehouse_env)
    stats = _only_file(result)
    assert (result.table.num_rows, result.quarantine.num_rows) == (rows, quarantined)
    assert stats.lines_read == _data_lines(payload, csv_file=True) == rows + quarantined  # nothing vanishes
    bad = result.quarantine.to_pylist()
    assert [q["line_number"] for q in bad] == lines
    assert all(q["source_table"] == "bronze.shop_orders" and q["source_file"].endswith(name) for q in bad)
    if reason:
        assert all(reason in q["reason"] for q in bad), bad


def test_a_short_line_is_kept_verbatim_in_quarantine(lakehouse_env):
    _land(lakehouse_env, ORDERS, "a.csv", f"{HEADER}\n{GOOD}\nO2,C2,  P2\n".encode())
    bad = _read(lakehouse_env).quarantine.to_pylist()[0]
    assert bad["record"] == "O2,C2,  P2" and bad["reason"] == "expected 10 fields, found 3"
    assert bad["dt"] == DT and bad["rules"] == []


def test_bad_encoding_keeps_the_raw_bytes_recoverable(lakehouse_env):
    _land(lakehouse_env, ORDERS, "a.csv", f"{HEADER}\n".encode() + GOOD.replace("europe", "europé").encode("cp1252") + b"\n")
    bad = _read(lakehouse_env).quarantine.to_pylist()[0]
    assert "not valid UTF-8" in bad["reason"] and "Latin-1" in bad["reason"]
    assert "europ\\xe9" in bad["record"]  # the byte is kept as an escape, not dropped


def test_quoted_field_spanning_lines_is_one_record(lakehouse_env):
    payload = f'{HEADER}\nO1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,"north\n\nwest",card\n{GOOD}\n'.encode()
    _land(lakehouse_env, ORDERS, "a.csv", payload)
    result = _read(lakehouse_env)
    rows = result.table.to_pylist()
    assert [r["region"] for r in rows] == ["north\n\nwest", "europe"]
    assert [r["_line_number"] for r in rows] == [2, 5]
    assert _only_file(result).lines_read == 2


FILE_CASES = [
    # name, spec, payload, reason fragment
    ("fake.csv.gz", ORDERS, f"{HEADER}\n{GOOD}\n".encode(), "is not a readable gzip file"),
    ("truncated.csv.gz", ORDERS, gzip.compress(f"{HEADER}\n{GOOD}\n{GOOD}\n".encode())[:-12], "truncated"),
    ("corrupt.csv.gz", ORDERS, gzip.compress(f"{HEADER}\n{GOOD}\n".encode())[:12] + b"\xff" * 40, "corrupt"),
    ("utf16.csv", ORDERS, f"{HEADER}\n{GOOD}\n".encode("utf-16"), "UTF-16"),
    ("secretly.csv", ORDERS, gzip.compress(f"{HEADER}\n{GOOD}\n".encode()), "does not end in .gz"),
    ("latin1_header.csv", ORDERS, "commandé,client\nO1,C1\n".encode("latin-1"), "header line"),
    ("orders.parquet", ORDERS, b"PAR1....", "not a csv file"),
    ("fake.jsonl.gz", CLICKS, (json.dumps(EVENT) + "\n").encode(), "is not a readable gzip file"),
]


@pytest.mark.parametrize("name, spec, payload, reason", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_unreadable_file_becomes_one_quarantine_row_with_its_reason(lakehouse_env, name, spec, payload, reason):
    _land(lakehouse_env, spec, name, payload)
    result = _read(lakehouse_env, spec)
    stats = _only_file(result)
    assert result.table.num_rows == 0
    (bad,) = result.quarantine.to_pylist()
    assert reason in bad["reason"] and bad["reason"].startswith(name)
    assert stats.error == bad["reason"]
    assert bad["source_file"].endswith(name) and bad["line_number"] is None
    assert json.loads(bad["record"])["size"] == len(payload)


def test_an_unreadable_file_does_not_hide_the_good_files_of_the_day(lakehouse_env):
    _land(lakehouse_env, ORDERS, "good.csv", f"{HEADER}\n{GOOD}\n".encode())
    _land(lakehouse_env, ORDERS, "bad.csv.gz", b"not gzip at all")
    result = _read(lakehouse_env)
    assert result.table.column("order_id").to_pylist() == ["O1"]
    assert [bool(f.error) for f in result.files] == [True, False]  # sorted by URI: bad, good


def test_gzip_multi_member_and_empty_files(lakehouse_env):
    payload = gzip.compress(f"{HEADER}\n{GOOD}\n".encode()) + gzip.compress(GOOD.replace("O1", "O2").encode() + b"\n")
    _land(lakehouse_env, ORDERS, "multi.csv.gz", payload)
    _land(lakehouse_env, ORDERS, "empty_inside.csv.gz", gzip.compress(b""))
    result = _read(lakehouse_env)
    assert result.table.column("order_id").to_pylist() == ["O1", "O2"]
    assert {f.file.rsplit("/", 1)[1]: f.lines_read for f in result.files} == {"empty_inside.csv.gz": 0,
                                                                             "multi.csv.gz": 2}


def test_empty_file_read_directly_yields_a_stats_entry_and_no_rows(lakehouse_env):
    # the listing skips zero-byte files; a reader handed one anyway must not fail
    path = _land(lakehouse_env, ORDERS, "empty.csv", b"")
    from lakehouse.ingest.landing import LandingFile

    file = LandingFile(path.as_uri(), str(path), 0, datetime.now(timezone.utc), "shop", "orders", DT, "empty.csv")
    stats, batches, rejects = readers.read_file(filesystem_for(file.uri, lakehouse_env)[0], file, [c.name for c in ORDERS.columns], "csv")
    assert (stats.lines_read, stats.rows_ok, stats.rows_quarantined, stats.error, batches, rejects) == (
        0, 0, 0, None, [], [])


def test_streaming_across_tiny_reads_gives_the_same_rows(lakehouse_env, monkeypatch):
    lines = [GOOD.replace("O1", f"O{i}").replace("europe", "é" * (i % 5)) for i in range(200)]
    payload = ("\ufeff" + HEADER + "\r\n" + "\r\n".join(lines) + "\r\n").encode()
    _land(lakehouse_env, ORDERS, "a.csv.gz", gzip.compress(payload))
    whole = _read(lakehouse_env).table
    monkeypatch.setattr(readers, "READ_CHUNK", 7)  # every line, BOM and multibyte char split across reads
    split = _read(lakehouse_env).table
    assert split.drop(["_ingested_at"]).equals(whole.drop(["_ingested_at"]))
    assert split.num_rows == 200 and split.column("region").to_pylist()[3] == "ééé"


def test_an_overlong_line_is_quarantined_without_being_held(lakehouse_env, monkeypatch):
    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 120)
    monkeypatch.setattr(readers, "READ_CHUNK", 16)
    _land(lakehouse_env, ORDERS, "a.csv", f"{HEADER}\n{GOOD}\nO2,{'x' * 500}\n{GOOD}\n".encode())
    result = _read(lakehouse_env)
    (bad,) = result.quarantine.to_pylist()
    assert bad["line_number"] == 3 and "longer than 120 bytes" in bad["reason"]
    assert bad["record"].startswith("O2,xxx") and len(bad["record"]) <= 2000
    assert result.table.column("_line_number").to_pylist() == [2, 4]
    assert _only_file(result).lines_read == 3


# --------------------------------------------------------------------------------------------- JSONL

def test_jsonl_bad_lines_are_quarantined_with_the_parser_message(lakehouse_env):
    lines = [
        json.dumps({**EVENT, "device": {"os": "ios"}}),
        '{"event_id": "e2", "event_type": ',
        "",
        "[1, 2, 3]",
        "null",
        json.dumps({"event_id": "e3", "value": 12.5}),
        '{"event_id": "e4",}',
    ]
    payload = gzip.compress(("\n".join(lines) + "\n").encode())
    _land(lakehouse_env, CLICKS, "c.jsonl.gz", payload)
    result = _read(lakehouse_env, CLICKS)
    rows = result.table.to_pylist()
    assert [r["event_id"] for r in rows] == ["e1", "e3"]
    assert json.loads(rows[0]["_rescued_data"]) == {"device": {"os": "ios"}}
    assert rows[1]["value"] == "12.5" and rows[1]["session_id"] is None and rows[1]["_rescued_data"] is None
    reasons = [(q["line_number"], q["reason"]) for q in result.quarantine.to_pylist()]
    assert [n for n, _ in reasons] == [2, 4, 5, 7]
    assert reasons[0][1].startswith("invalid JSON: Expecting value at column")
    assert reasons[1][1] == "expected a JSON object, found list"
    assert reasons[2][1] == "expected a JSON object, found null"
    assert reasons[3][1].startswith("invalid JSON")
    stats = _only_file(result)
    assert stats.lines_read == _data_lines(gzip.decompress(payload), csv_file=False) == 6
    assert stats.missing_columns == {"event_ts": 1, "event_type": 1, "user_id": 1, "session_id": 1, "page": 1}
    assert stats.extra_columns == ["device"]


# ---------------------------------------------------------------------------------------- schema drift

def test_missing_column_is_null_and_counted_extra_column_is_rescued(lakehouse_env):
    header = HEADER.replace(",payment_method", "") + ",coupon_code"
    body = "O1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,europe,SAVE10\nO2,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,europe,\n"
    _land(lakehouse_env, ORDERS, "a.csv", f"{header}\n{body}".encode())
    result = _read(lakehouse_env)
    first, second = result.table.to_pylist()
    assert json.loads(first["_rescued_data"]) == {"coupon_code": "SAVE10"}
    assert second["_rescued_data"] is None  # an empty extra value carries nothing to rescue
    assert first["payment_method"] is None and first["region"] == "europe"
    stats = _only_file(result)
    assert stats.missing_columns == {"payment_method": 2} and stats.extra_columns == ["coupon_code"]


def test_columns_are_matched_by_name_not_position(lakehouse_env):
    header = HEADER.replace("region,payment_method", "payment_method,region")
    _land(lakehouse_env, ORDERS, "a.csv", f"{header}\nO1,C1,P1,2024-06-03T10:00:00Z,2,9.99,USD,placed,card,europe\n".encode())
    row = _read(lakehouse_env).table.to_pylist()[0]
    assert (row["region"], row["payment_method"]) == ("europe", "card")


def test_repeated_and_unnamed_header_columns_are_rescued_not_lost(lakehouse_env):
    _land(lakehouse_env, ORDERS, "a.csv", f"{HEADER},status,\n{GOOD},SHIPPED,x\n".encode())
    result = _read(lakehouse_env)
    row = result.table.to_pylist()[0]
    assert row["status"] == "placed"
    assert json.loads(row["_rescued_data"]) == {"status#11": "SHIPPED", "_c11": "x"}


# ---------------------------------------------------------------------------------------------- listing

def test_listing_skips_files_still_being_written_and_off_layout(lakehouse_env):
    _land(lakehouse_env, ORDERS, "done.csv", f"{HEADER}\n{GOOD}\n".encode())
    for name in ("busy.csv.tmp", "busy.csv.part", "a.csv._COPYING_", "x.crc", "_partial.csv", ".hidden.csv",
                 "_SUCCESS"):
        _land(lakehouse_env, ORDERS, name, f"{HEADER}\n{GOOD}\n".encode())
    _land(lakehouse_env, ORDERS, "zero.csv", b"")
    _land(lakehouse_env, ORDERS, "bad-day.csv", b"x\n", dt="latest")
    _land(lakehouse_env, ORDERS, "bad-day.csv", b"x\n", dt="2024-02-30")
    root = Path(urlparse(lakehouse_env.landing).path)
    (root / "shop" / "orders" / "stray.csv").write_text("x\n")  # no dt= folder
    (root / "shop" / "orders" / f"dt={DT}" / "_temporary").mkdir()
    (root / "shop" / "orders" / f"dt={DT}" / "_temporary" / "part-0.csv").write_text("x\n")
    files = LandingZone(lakehouse_env).files()
    assert [f.name for f in files] == ["done.csv"]
    f = files[0]
    assert (f.source, f.entity, f.dt, f.size) == ("shop", "orders", DT, len(f"{HEADER}\n{GOOD}\n"))
    assert f.mtime.tzinfo is not None and f.uri.startswith("file://") and Path(f.path).exists()
    assert [x.name for x in LandingZone(lakehouse_env).files_for(ORDERS.landing, DT)] == ["done.csv"]
    assert LandingZone(lakehouse_env).files("shop/orders") == files
    assert LandingZone(lakehouse_env).files("crm/contacts") == []


def test_listing_helpers():
    assert parse_key("shop/orders/dt=2024-06-03/a.csv") == ("shop", "orders", "2024-06-03", "a.csv")
    assert parse_key("shop/orders/dt=2024-6-3/a.csv") is None
    assert parse_key("shop/orders/a.csv") is None
    assert parse_key("shop/.orders/dt=2024-06-03/a.csv") is None
    assert is_complete("a.csv", 3) and not is_complete("a.csv", 0) and not is_complete("a.csv.TMP", 3)


def test_paths_with_spaces_round_trip_through_uris(tmp_path, lakehouse_env):
    settings = lakehouse_env.with_(landing=(tmp_path / "my landing").as_uri())
    _land(settings, ORDERS, "a b.csv", f"{HEADER}\n{GOOD}\n".encode())
    result = _read(settings)
    assert result.table.num_rows == 1
    assert result.table.column("_source_file")[0].as_py().endswith("/my%20landing/shop/orders/dt=2024-06-03/a%20b.csv")


# ------------------------------------------------------------------------------------------------ S3

def test_reads_landing_files_from_s3(s3_lakehouse_env):
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_lakehouse_env.aws_endpoint_url, region_name="us-east-1")
    bucket = s3_lakehouse_env.landing.split("/")[2]
    prefix = f"landing/shop/orders/dt={DT}"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/a.csv", Body=f"{HEADER}\n{GOOD}\nbroken\n".encode())
    s3.put_object(Bucket=bucket, Key=f"{prefix}/b.csv.gz", Body=gzip.compress(f"{HEADER}\n{GOOD.replace('O1', 'O2')}\n".encode()))
    s3.put_object(Bucket=bucket, Key=f"{prefix}/c.csv.gz", Body=b"not gzip")
    s3.put_object(Bucket=bucket, Key=f"{prefix}/d.csv.tmp", Body=f"{HEADER}\n{GOOD}\n".encode())
    s3.put_object(Bucket=bucket, Key=f"{prefix}/e.csv", Body=b"")
    files = LandingZone(s3_lakehouse_env).files("shop/orders")
    assert [f.name for f in files] == ["a.csv", "b.csv.gz", "c.csv.gz"]
    assert files[0].uri == f"s3://{bucket}/{prefix}/a.csv" and files[0].mtime.tzinfo is not None
    result = _read(s3_lakehouse_env)
    assert result.table.column("order_id").to_pylist() == ["O1", "O2"]
    assert result.table.column("_source_file")[0].as_py() == f"s3://{bucket}/{prefix}/a.csv"
    reasons = result.quarantine.column("reason").to_pylist()
    assert reasons[0] == "expected 10 fields, found 1" and "not a readable gzip file" in reasons[1]
