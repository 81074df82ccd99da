"""Billing end to end on a real PostgreSQL server: seeded dirty rows -> export -> bronze -> silver -> gold.

The server is a throwaway cluster (platform_tests/postgres_server.py), started once for the test session. Expected numbers are computed here from the seeded rows, read back from
PostgreSQL, with the domain's documented rules re-implemented in plain Python.
"""
from __future__ import annotations

import math
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from postgres_server import PASSWORD, create_database, terminate_once  # noqa: E402
from tables_testing import table_content

SEED_START, SEED_DAYS, ROWS, SEED = date(2024, 6, 1), 5, 120, 11
START, END = "2024-06-03", "2024-06-04"  # rows of 06-01, 06-02 and 06-05 are outside the exported days
BATCH_ROWS = 25
pytestmark = pytest.mark.postgres  # every test here talks to a real PostgreSQL server


@pytest.fixture(scope="module")
def billing_db(pg):
    from lakehouse.dev.generate.billing import seed_database

    dsn = create_database(pg, "billing")
    seed_database(dsn, SEED_START, SEED_DAYS, ROWS, SEED)
    return dsn


@pytest.fixture
def billing_env(lakehouse_env, billing_db, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_BILLING_DSN", billing_db)
    monkeypatch.setenv("LAKEHOUSE_BILLING_BATCH_ROWS", str(BATCH_ROWS))
    monkeypatch.setenv("LAKEHOUSE_BILLING_RETRY_DELAY", "0.1")
    return lakehouse_env


# --- the seeded rows, read back from PostgreSQL, and the domain's rules in Python -----------------------
def _rows(dsn: str, table: str) -> list[dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(f"select * from {table}").fetchall()


def _bounds(dt: str) -> tuple[datetime, datetime]:
    start = datetime.combine(date.fromisoformat(dt), datetime.min.time(), tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def _on(row, dt, col="created_at") -> bool:
    start, end = _bounds(dt)
    return row[col] is not None and start <= row[col] < end


def _norm(value, aliases=None):
    if value is None:
        return None
    v = value.strip().lower()
    return (aliases or {}).get(v, v)


def _latest(rows, key):
    """Rank 1 per id by updated_at (then created_at); rows without an id stay for their own rule."""
    best = {}
    for r in rows:
        if r[key] is None:
            continue
        stamp = r["updated_at"] or r["created_at"]
        if r[key] not in best or stamp > (best[r[key]]["updated_at"] or best[r[key]]["created_at"]):
            best[r[key]] = r
    return [r for r in rows if r[key] is not None and best[r[key]] is r]


def _usd(r) -> bool:
    return r["currency"] is not None and r["currency"].strip().upper() == "USD"


def expected_revenue(dsn: str, dt: str) -> dict:
    _, end = _bounds(dt)
    invoices = [r for r in _latest([r for r in _rows(dsn, "invoices") if _on(r, dt)], "id")
                if r["user_id"] is not None and r["amount"] is not None and r["amount"] >= 0 and _usd(r)]
    inv_status = {"cancelled": "void", "voided": "void"}
    invoiced = sum((r["amount"] for r in invoices
                    if _norm(r["status"], inv_status) in ("open", "paid", "uncollectible")), Decimal(0))

    trx_status = {"success": "succeeded", "successful": "succeeded", "fail": "failed"}
    trx = [r for r in _latest([r for r in _rows(dsn, "transactions") if _on(r, dt)], "id")
           if r["user_id"] is not None and r["amount"] is not None and r["amount"] > 0 and _usd(r)
           and _norm(r["status"], trx_status) == "succeeded"]
    collected = sum((r["amount"] for r in trx if _norm(r["kind"]) == "payment"), Decimal(0))
    refunded = sum((r["amount"] for r in trx if _norm(r["kind"]) == "refund"), Decimal(0))

    sub_status = {"cancelled": "canceled", "past-due": "past_due"}
    intervals = {"monthly": "month", "yearly": "year", "annual": "year"}
    subs = [r for r in _rows(dsn, "subscriptions") if r["created_at"] is not None and r["created_at"] < end]
    subs = [r for r in _latest(subs, "id")
            if r["user_id"] is not None and r["started_at"] is not None and r["amount"] is not None
            and r["amount"] >= 0 and _usd(r)
            and _norm(r["status"], sub_status) in ("trialing", "active", "past_due", "canceled")
            and _norm(r["billing_interval"], intervals) in ("month", "year")
            and not (_norm(r["status"], sub_status) == "canceled" and r["canceled_at"] is None)]
    active = [r for r in subs if _norm(r["status"], sub_status) != "trialing" and r["started_at"] < end
              and (r["canceled_at"] is None or r["canceled_at"] >= end)]
    mrr = sum((r["amount"] / 12 if _norm(r["billing_interval"], intervals) == "year" else r["amount"]
               for r in active), Decimal(0))
    cents = Decimal("0.01")
    return {"dt": dt, "invoiced_usd": invoiced.quantize(cents), "collected_usd": collected.quantize(cents),
            "refunded_usd": refunded.quantize(cents), "active_subscriptions": len(active),
            "mrr_usd": mrr.quantize(cents)}


def source_counts(dsn: str, dt: str) -> dict[str, int]:
    """What each bronze day should hold, by the documented windows."""
    _, end = _bounds(dt)
    return {
        "billing_users": sum(1 for r in _rows(dsn, "users")
                             if (r["updated_at"] or r["created_at"]) is not None
                             and _on({"t": r["updated_at"] or r["created_at"]}, dt, "t")),
        "billing_subscriptions": sum(1 for r in _rows(dsn, "subscriptions")
                                     if r["created_at"] is not None and r["created_at"] < end),
        "billing_invoices": sum(1 for r in _rows(dsn, "invoices") if _on(r, dt)),
        "billing_transactions": sum(1 for r in _rows(dsn, "transactions") if _on(r, dt)),
    }


# --- reading the lakehouse --------------------------------------------------------------------------------
def _materializations(run) -> dict[str, dict]:
    out = {}
    for result in run.results:
        for ev in result.get_asset_materialization_events():
            mat = ev.event_specific_data.materialization
            out[".".join(mat.asset_key.path)] = {k: v.value for k, v in mat.metadata.items()}
    return out


# --- tests -------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_billing_export_to_gold_with_retry_and_idempotent_rerun(billing_env, billing_db, monkeypatch):
    from dagster import DagsterInstance

    from lakehouse.definitions import build_definitions
    from lakehouse.ingest import postgres
    from lakehouse.pipeline.registry import specs_in
    from lakehouse.runs import materialize_range

    listener, fired = terminate_once(billing_db, "public.transactions", END, at_batch=2)
    monkeypatch.setattr(postgres, "BATCH_LISTENERS", [listener])
    defs, instance = build_definitions(), DagsterInstance.ephemeral()

    run = materialize_range(defs, START, END, instance=instance, domain="billing")
    assert run.success, run.failures()
    assert fired, "the export was never interrupted"
    for table, checks in run.check_results().items():
        assert all(checks.values()), (table, checks)

    # bronze: every day holds exactly the source's rows for that day (counted independently here)
    from lakehouse.resources import LakehouseResource

    lh = LakehouseResource()
    meta = _materializations(run)
    for spec in specs_in(layer="bronze", domain="billing"):
        rows = lh.store().read(lh.uri_of(spec), lh.format_of(spec), None)
        per_day = {d: rows.column("dt").to_pylist().count(d) for d in (START, END)}
        expected = {d: source_counts(billing_db, d)[spec.name] for d in (START, END)}
        assert per_day == expected, spec.id
        assert meta[spec.id]["source_rows"] == meta[spec.id]["rows_written"] == sum(expected.values())
    # bounded memory: the day was fetched BATCH_ROWS at a time, in several batches
    trx = source_counts(billing_db, START)["billing_transactions"], source_counts(billing_db, END)["billing_transactions"]
    assert meta["bronze.billing_transactions"]["batches"] == sum(math.ceil(n / BATCH_ROWS) for n in trx) >= 6
    # the terminated connection was retried: attempt 2 of END's transactions export succeeded
    assert meta["bronze.billing_transactions"]["attempts"] == 2

    # silver: the seeded defects are quarantined with their reasons
    reasons = {
        "silver.billing_invoices": {"amount_not_negative", "known_status", "usd_only", "user_id_present",
                                    "latest_version"},
        "silver.billing_transactions": {"positive_amount", "known_kind", "known_status", "usd_only",
                                        "user_id_present", "transaction_id_present", "latest_version"},
        "silver.billing_subscriptions": {"known_status", "amount_not_negative", "usd_only", "user_id_present",
                                         "canceled_has_date", "known_interval", "latest_version"},
        "silver.billing_users": {"latest_version"},
    }
    for table, wanted in reasons.items():
        q = table_content(table, quarantine=True)
        seen = {rule for rules in q.column("rules").to_pylist() for rule in rules}
        assert wanted <= seen, (table, wanted - seen)
        assert all(r.startswith("broke rules: ") for r in q.column("reason").to_pylist())
        assert set(q.column("dt").to_pylist()) == {START, END}
    # conformed statuses: aliases and casing mapped, the published vocabulary is closed
    subs = table_content("silver.billing_subscriptions")
    assert set(subs.column("status").to_pylist()) <= {"trialing", "active", "past_due", "canceled"}
    assert set(subs.column("billing_interval").to_pylist()) == {"month", "year"}

    # gold: the numbers computed here from the seeded rows
    gold = sorted(table_content("gold.billing_daily_revenue").to_pylist(), key=lambda r: r["dt"])
    assert gold == [expected_revenue(billing_db, START), expected_revenue(billing_db, END)]
    assert all(r["invoiced_usd"] > 0 and r["collected_usd"] > 0 and r["refunded_usd"] > 0 and r["mrr_usd"] > 0
               for r in gold), gold

    # idempotency: re-running a day leaves every billing table and quarantine exactly as it was
    tables = [s.id for s in specs_in(domain="billing")]
    before = {t: (table_content(t), table_content(t, quarantine=True) if t.startswith("silver") else None) for t in tables}
    rerun = materialize_range(defs, END, END, instance=instance, domain="billing", log_level="WARNING")
    assert rerun.success, rerun.failures()
    for table, (rows, quarantined) in before.items():
        assert table_content(table).equals(rows), table
        if quarantined is not None:
            assert table_content(table, quarantine=True).equals(quarantined), table


def test_bad_password_fails_fast_without_leaking_it(billing_env, pg, monkeypatch):
    from dagster import DagsterInstance

    from lakehouse.definitions import build_definitions
    from lakehouse.pipeline.registry import specs_in
    from lakehouse.resources import LakehouseResource
    from lakehouse.runs import materialize_range

    wrong = "Wr0ng-pass-XYZ"
    monkeypatch.setenv("LAKEHOUSE_BILLING_DSN", pg.dsn("billing", password=wrong))
    run = materialize_range(build_definitions(), START, START, instance=DagsterInstance.ephemeral(),
                            domain="billing", log_level="WARNING")
    assert not run.success
    failures = "\n".join(run.failures())
    assert "password authentication failed" in failures and "127.0.0.1" in failures
    assert "public.users" in failures and "public.invoices" in failures
    assert wrong not in failures and PASSWORD not in failures
    events = [ev for r in run.results for ev in r.all_events]
    assert not any(ev.is_step_up_for_retry for ev in events), "a permanent error must not be retried"
    lh = LakehouseResource()
    assert all(not lh.partitions_of(s) for s in specs_in(domain="billing"))


def test_permanent_source_errors_name_the_table_and_host(billing_db, pg):
    from lakehouse.domains.billing.bronze import SOURCES
    from lakehouse.ingest.postgres import SourceError, export_day

    with pytest.raises(SourceError) as missing:  # the postgres database has no billing tables
        export_day(pg.dsn("postgres"), SOURCES["invoices"], START, retries=3, retry_delay=5)
    assert "public.invoices" in str(missing.value) and "does not exist" in str(missing.value)
    assert "127.0.0.1" in str(missing.value) and PASSWORD not in str(missing.value)

    with pytest.raises(SourceError) as malformed:
        export_day(billing_db + " oops", SOURCES["invoices"], START)
    assert "malformed DSN" in str(malformed.value) and PASSWORD not in str(malformed.value)

    with pytest.raises(SourceError, match="LAKEHOUSE_BILLING_DSN"):
        export_day(None, SOURCES["invoices"], START)


def test_export_streams_bounded_batches_and_full_mode(billing_db, monkeypatch, tmp_path):
    from lakehouse.domains.billing.bronze import SOURCES
    from lakehouse.ingest import postgres
    from lakehouse.ingest.staging import Staging
    from lakehouse.storage.filesystem import spark_path

    sizes = []
    monkeypatch.setattr(postgres, "BATCH_LISTENERS", [lambda ev: sizes.append(ev.rows)])
    day = postgres.export_day(billing_db, SOURCES["invoices"], START, batch_rows=7,
                              staging=Staging.local_temp(tmp_path))
    staged = day.read_table()  # the day went batch by batch to a staging Parquet file, one row group each
    assert day.source_count == day.rows_written == staged.num_rows == sum(sizes) > 0
    assert day.batches == len(sizes) == math.ceil(day.rows_written / 7) and max(sizes) == 7
    assert staged.column("_line_number").to_pylist() == list(range(1, day.rows_written + 1))
    assert pq.ParquetFile(spark_path(day.files[0])).num_row_groups == day.batches

    full = postgres.export_day(billing_db, SOURCES["invoices"], START, mode="full", batch_rows=500,
                               staging=Staging.local_temp(tmp_path))
    assert full.source_count == full.rows_written == len(_rows(billing_db, "invoices")) > day.rows_written
