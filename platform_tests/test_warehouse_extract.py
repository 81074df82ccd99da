"""The warehouse extract on a real PostgreSQL server standing in for Redshift (same wire protocol):
`analytics.customer_behavior` -> bronze (staged Parquet, one Delta commit) -> silver -> gold.customer_analytics.

Expected numbers are computed here from the seeded rows, read back from PostgreSQL, with the documented rules
re-implemented in plain Python. The server is a throwaway cluster (postgres_server.py); `make test` installs
PostgreSQL (postgres-deps), so a missing server fails these tests instead of skipping them.
"""
from __future__ import annotations

import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from postgres_server import PASSWORD, create_database, terminate_once  # noqa: E402
from tables_testing import table_content  # noqa: E402

SEED_START, SEED_DAYS, ROWS, SEED = date(2024, 6, 1), 4, 24, 5
START, END = "2024-06-02", "2024-06-03"  # 06-01 and 06-04 are seeded but not exported
BATCH_ROWS = 5
GOLD = ("gold", "customer_analytics")
pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def warehouse_db(pg):
    from lakehouse.dev.generate.behavior import seed_database

    dsn = create_database(pg, "analytics")
    seed_database(dsn, SEED_START, SEED_DAYS, ROWS, SEED)
    return dsn


@pytest.fixture
def redshift_env(lakehouse_env, warehouse_db, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_REDSHIFT_DSN", warehouse_db)
    monkeypatch.setenv("LAKEHOUSE_REDSHIFT_BATCH_ROWS", str(BATCH_ROWS))
    monkeypatch.setenv("LAKEHOUSE_REDSHIFT_RETRY_DELAY", "0.1")
    return lakehouse_env


# --- the seeded rows and the documented rules, in Python ----------------------------------------------------
def _rows(dsn: str) -> list[dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute("select * from analytics.customer_behavior").fetchall()


def _silver_rows(dsn: str, days: set[date]) -> dict[tuple[str, date], dict]:
    """Published silver rows by (customer, day): latest version per key, then the row rules."""
    latest: dict[tuple[str, date], dict] = {}
    for r in _rows(dsn):
        cid = (r["customer_id"] or "").strip().upper()
        if r["day"] not in days or not cid:
            continue
        key = (cid, r["day"])
        if key not in latest or r["updated_at"] > latest[key]["updated_at"]:
            latest[key] = r
    counts = ("sessions", "page_views", "cart_adds", "minutes_on_site")
    return {k: r for k, r in latest.items()
            if all(r[c] is not None and r[c] >= 0 for c in counts)
            and r["page_views"] >= r["sessions"] and r["minutes_on_site"] <= 1440}


def _expected_engagement(dsn: str, as_of: date, customers: list[str]) -> dict[str, tuple]:
    window = {as_of - timedelta(days=n) for n in range(30)} & {date.fromisoformat(START), date.fromisoformat(END)}
    rows = _silver_rows(dsn, window)
    out = {}
    for cid in customers:
        mine = [r for (c, _), r in rows.items() if c == cid]
        out[cid] = (None,) * 5 if not mine else (
            sum(r["sessions"] for r in mine), sum(r["page_views"] for r in mine), sum(r["cart_adds"] for r in mine),
            sum((r["minutes_on_site"] for r in mine), Decimal(0)), max(r["day"] for r in mine))
    return out


def _orders(spark, customers: list[str]):
    """silver.orders for END: one order per customer, published as the commerce pipeline would."""
    from model_testing import frame

    from lakehouse.pipeline.registry import get_spec
    from lakehouse.resources import LakehouseResource

    spec = get_spec("silver.orders")
    rows = [{"order_id": f"o{i}", "customer_id": cid, "amount_usd": "100.00", "order_date": END,
             "status": "placed", "dt": END} for i, cid in enumerate(customers)]
    LakehouseResource().publish(spec, frame(spark, spec, rows), [END])


def _run_gold(defs, instance):
    from dagster import AssetKey

    from lakehouse.runs import RANGE_END, RANGE_START

    return defs.resolve_job_def("commerce_daily").execute_in_process(
        instance=instance, asset_selection=[AssetKey(list(GOLD))], tags={RANGE_START: END, RANGE_END: END},
        raise_on_error=False)


def _gold_engagement() -> dict[str, tuple]:
    cols = ("sessions_30d", "page_views_30d", "cart_adds_30d", "minutes_on_site_30d", "last_active_date")
    return {r["customer_id"]: tuple(r[c] for c in cols) for r in table_content(".".join(GOLD)).to_pylist()}


def _all_text(results) -> str:
    """Every event message and metadata value of the runs: where a leaked DSN would show."""
    parts = []
    for result in results:
        for ev in result.all_events:
            parts.append(ev.message or "")
            data = ev.event_specific_data
            mat = getattr(data, "materialization", None)
            parts += [str(v.value) for v in (mat.metadata.values() if mat else [])]
            check = getattr(data, "metadata", None)
            parts += [str(v.value) for v in (check.values() if isinstance(check, dict) else [])]
    return "\n".join(parts)


# --- tests -------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_warehouse_extract_to_gold_with_retry_quarantine_and_no_source(redshift_env, warehouse_db, spark,
                                                                       monkeypatch):
    from dagster import DagsterInstance

    from lakehouse.definitions import build_definitions
    from lakehouse.ingest import postgres
    from lakehouse.pipeline.registry import get_spec
    from lakehouse.resources import LakehouseResource
    from lakehouse.runs import materialize_range
    from lakehouse.storage.filesystem import list_files

    defs, instance = build_definitions(), DagsterInstance.ephemeral()
    seeded = {r["customer_id"].strip().upper() for r in _rows(warehouse_db) if r["customer_id"]}
    customers = sorted(seeded)[:8] + ["C999999"]  # the last one never visits the site
    _orders(spark, customers)

    # no behaviour yet (as when LAKEHOUSE_REDSHIFT_DSN is not set): gold still publishes, engagement NULL
    before = _run_gold(defs, instance)
    assert before.success, [e.message for e in before.all_events if e.is_failure]
    assert set(_gold_engagement()) == set(customers)
    assert all(v == (None,) * 5 for v in _gold_engagement().values())

    # the behaviour job: END's export loses its connection at batch 2 and is retried on a new snapshot
    listener, fired = terminate_once(warehouse_db, "analytics.customer_behavior", END, at_batch=2)
    monkeypatch.setattr(postgres, "BATCH_LISTENERS", [listener])
    run = materialize_range(defs, START, END, instance=instance, domain="behavior")
    assert run.success, run.failures()
    assert fired, "the export was never interrupted"
    assert all(all(checks.values()) for checks in run.check_results().values()), run.check_results()

    lh = LakehouseResource()
    bronze = lh.store().read(lh.uri_of(get_spec("bronze.customer_behavior")), "delta", None)
    by_day = {d: bronze.column("dt").to_pylist().count(d) for d in (START, END)}
    source = {d: sum(1 for r in _rows(warehouse_db) if r["day"] == date.fromisoformat(d)) for d in (START, END)}
    assert by_day == source and all(n > 2 * BATCH_ROWS for n in source.values())
    meta = {".".join(m.asset_key.path): {k: v.value for k, v in m.metadata.items()}
            for r in run.results for ev in r.get_asset_materialization_events()
            for m in [ev.event_specific_data.materialization]}
    assert meta["bronze.customer_behavior"]["source_rows"] == meta["bronze.customer_behavior"]["rows_written"] \
        == sum(source.values())
    assert meta["bronze.customer_behavior"]["attempts"] == 2
    # staged batches are gone once the day is published
    assert not list_files(f"{redshift_env.warehouse}/_staging", redshift_env)

    # silver: typed, ids conformed, each seeded defect quarantined with its rule
    silver = table_content("silver.customer_behavior")
    days = {date.fromisoformat(START), date.fromisoformat(END)}
    assert silver.num_rows == len(_silver_rows(warehouse_db, days))
    assert all(c == c.strip().upper() for c in silver.column("customer_id").to_pylist())
    q = table_content("silver.customer_behavior", quarantine=True)
    seen = {rule for rules in q.column("rules").to_pylist() for rule in rules}
    assert {"customer_id_present", "numeric_counts", "counts_not_negative", "views_cover_sessions",
            "minutes_within_day", "latest_version"} <= seen
    assert all(r.startswith("broke rules: ") for r in q.column("reason").to_pylist())

    # gold again: engagement over the 30 days up to END, per customer, as computed here
    after = _run_gold(defs, instance)
    assert after.success
    expected = _expected_engagement(warehouse_db, date.fromisoformat(END), customers)
    assert _gold_engagement() == expected
    assert expected["C999999"] == (None,) * 5 and sum(1 for v in expected.values() if v[0]) >= 4

    # the DSN's password appears in no event, log message or metadata of any run
    text = _all_text([before, *run.results, after])
    assert "postgresql://lakehouse@127.0.0.1" in text and PASSWORD not in text


def test_warehouse_extract_count_check_blocks_the_publish(redshift_env, spark, monkeypatch):
    """A day whose written rows differ from the source's count (here: a writer that loses a row) fails the
    blocking check, publishes nothing and leaves no staging behind."""
    from dagster import DagsterInstance

    from lakehouse.definitions import build_definitions
    from lakehouse.ingest import postgres
    from lakehouse.pipeline.registry import get_spec
    from lakehouse.resources import LakehouseResource
    from lakehouse.runs import materialize_range
    from lakehouse.storage.filesystem import list_files

    real = postgres._to_batch

    def lossy(rows, *args):
        return real(rows[:-1] if len(rows) == BATCH_ROWS else rows, *args)

    monkeypatch.setattr(postgres, "_to_batch", lossy)
    run = materialize_range(build_definitions(), START, START, instance=DagsterInstance.ephemeral(),
                            domain="behavior", log_level="WARNING")
    assert not run.success
    assert run.check_results()["bronze.customer_behavior"]["source_count_matches"] is False
    assert "differ from the source's count" in "\n".join(run.failures())
    assert not LakehouseResource().partitions_of(get_spec("bronze.customer_behavior"))
    assert not list_files(f"{redshift_env.warehouse}/_staging", redshift_env)


def test_warehouse_extract_reads_one_snapshot_under_concurrent_writes(warehouse_db, monkeypatch, tmp_path):
    """Rows inserted and deleted for the day while the export runs are not seen: count and rows both come
    from the snapshot the export started with."""
    import psycopg

    from lakehouse.domains.behavior.bronze import SOURCE
    from lakehouse.ingest import postgres
    from lakehouse.ingest.staging import Staging

    day = date(2024, 6, 4)
    with psycopg.connect(warehouse_db) as conn:
        before = conn.execute("select count(*) from analytics.customer_behavior where day = %s", (day,)).fetchone()[0]
    writes = []

    def write_meanwhile(event):
        with psycopg.connect(warehouse_db, autocommit=True) as other:
            other.execute("insert into analytics.customer_behavior values ('C777777', %s, 1, 1, 0, 1.00, now())",
                          (day,))
            other.execute("delete from analytics.customer_behavior where ctid = (select min(ctid) from "
                          "analytics.customer_behavior where day = %s and customer_id <> 'C777777')", (day,))
        writes.append(event.batch)

    monkeypatch.setattr(postgres, "BATCH_LISTENERS", [write_meanwhile])
    try:
        result = postgres.export_day(warehouse_db, SOURCE, day.isoformat(), batch_rows=BATCH_ROWS, retries=0,
                                     staging=Staging.local_temp(tmp_path))
        staged = result.read_table()
        with psycopg.connect(warehouse_db) as conn:
            now = conn.execute("select count(*) from analytics.customer_behavior where day = %s", (day,)).fetchone()[0]
    finally:  # put the day back as seeded for the other tests
        from lakehouse.dev.generate.behavior import seed_database

        seed_database(warehouse_db, SEED_START, SEED_DAYS, ROWS, SEED)
    assert len(writes) == result.batches >= 5
    assert result.source_count == result.rows_written == staged.num_rows == before
    assert "C777777" not in staged.column("customer_id").to_pylist()
    assert now == before  # as many inserted as deleted: the table moved under the export
    assert staged.column("_line_number").to_pylist() == list(range(1, before + 1))


def test_warehouse_extract_settings_are_named_by_the_source_and_validated():
    from lakehouse.config import DATABASES, Settings
    from lakehouse.errors import ConfigError
    from lakehouse.ingest.postgres import DatabaseExport, SourceError, export_day
    from lakehouse.pipeline.registry import all_specs

    sources = [s.extract.source for s in all_specs() if isinstance(s.extract, DatabaseExport)]
    assert {s.connection for s in sources} == set(DATABASES)  # every source names a known connection
    settings = Settings.from_env({"LAKEHOUSE_REDSHIFT_DSN": "postgresql://svc:Sup3rS3cret@rs:5439/dev",
                                  "LAKEHOUSE_REDSHIFT_BATCH_ROWS": "500"})
    db = settings.database("redshift")
    assert (db.batch_rows, db.retries, settings.database("billing").dsn) == (500, 3, None)
    assert "Sup3rS3cret" not in repr(settings) and "postgresql://svc:***@rs:5439/dev" in repr(db)
    with pytest.raises(ConfigError) as bad:
        Settings.from_env({"LAKEHOUSE_REDSHIFT_BATCH_ROWS": "lots"})
    assert str(bad.value).startswith("LAKEHOUSE_REDSHIFT_BATCH_ROWS='lots' is not valid") and "\n" not in str(bad.value)
    with pytest.raises(ConfigError, match="no source database 'oracle'"):
        settings.database("oracle")
    from lakehouse.domains.behavior.bronze import SOURCE

    with pytest.raises(SourceError, match="set LAKEHOUSE_REDSHIFT_DSN"):
        export_day(None, SOURCE, START)


def test_warehouse_extract_of_a_query_source(warehouse_db, tmp_path):
    """A source may be a query instead of a table (a view the warehouse does not have): same window, same
    snapshot and count check, reported under its name."""
    import psycopg

    from lakehouse.ingest.database import DatabaseSource
    from lakehouse.ingest.postgres import export_day
    from lakehouse.ingest.staging import Staging

    source = DatabaseSource(
        "redshift", "analytics.engaged_customers", (("customer_id", "text"), ("day", "text"), ("sessions", "text")),
        day_column="day", day_type="date", key=("customer_id",), tiebreak=None,
        query="select customer_id, day, sessions from analytics.customer_behavior where sessions >= 3")
    result = export_day(warehouse_db, source, START, batch_rows=4, staging=Staging.local_temp(tmp_path))
    with psycopg.connect(warehouse_db) as conn:
        expected = conn.execute("select count(*) from analytics.customer_behavior where sessions >= 3 and day = %s",
                                (date.fromisoformat(START),)).fetchone()[0]
    staged = result.read_table()
    assert result.source_count == result.rows_written == staged.num_rows == expected > 0
    assert set(staged.column("day").to_pylist()) == {START} and set(staged.column("dt").to_pylist()) == {START}
    assert all(int(s) >= 3 for s in staged.column("sessions").to_pylist())
    assert staged.column("_source_file")[0].as_py().endswith("/analytics.engaged_customers")
    with pytest.raises(ValueError, match="a query has no row id"):
        DatabaseSource("redshift", "analytics.x", (("a", "text"),), query="select 1 as a")


# --- the models on tiny rows (SQLMesh-style), no server ---------------------------------------------------------
def test_warehouse_extract_silver_model_types_conforms_and_quarantines(spark):
    from model_testing import run_model

    def raw(cid, sessions="2", views="5", carts="1", minutes="12.50", updated="2024-06-03T01:00:00.000000Z", **kw):
        return {"customer_id": cid, "day": END, "sessions": sessions, "page_views": views, "cart_adds": carts,
                "minutes_on_site": minutes, "updated_at": updated, "dt": END, **kw}

    run = run_model(spark, "silver.customer_behavior", {"bronze_customer_behavior": [
        raw(" c000001 ", _line_number=1),
        raw("C000002", sessions="3", _line_number=2),  # re-sent below with later numbers: the later one wins
        raw("C000002", sessions="4", views="9", updated="2024-06-03T02:00:00.000000Z", _line_number=3),
        raw(None, _line_number=4), raw("C000003", views="1", _line_number=5), raw("C000004", carts="-1"),
        raw("C000005", minutes="1500.00"), raw("C000006", sessions="two"),
    ]}, END)
    assert run.rows("customer_id", "sessions", "page_views", "minutes_on_site") == [
        {"customer_id": "C000001", "sessions": 2, "page_views": 5, "minutes_on_site": Decimal("12.50")},
        {"customer_id": "C000002", "sessions": 4, "page_views": 9, "minutes_on_site": Decimal("12.50")},
    ]
    assert {(r["customer_id"], tuple(r["rules"])) for r in run.quarantine("customer_id")} == {
        ("C000002", ("latest_version",)), (None, ("customer_id_present",)), ("C000003", ("views_cover_sessions",)),
        ("C000004", ("counts_not_negative",)), ("C000005", ("minutes_within_day",)),
        ("C000006", ("numeric_counts",))}
    assert str(run.rows("activity_date")[0]["activity_date"]) == END
    assert run.contract.passed, run.contract.summary()


def test_warehouse_extract_gold_engagement_is_a_30_day_window_and_optional(spark):
    from model_testing import run_model

    def sold(oid, cid):
        return {"order_id": oid, "customer_id": cid, "amount_usd": "100.00", "order_date": END, "status": "placed",
                "dt": END}

    def seen(cid, day, sessions, minutes="10.00"):
        return {"customer_id": cid, "activity_date": day, "sessions": sessions, "page_views": sessions + 1,
                "cart_adds": 1, "minutes_on_site": minutes, "dt": day}

    orders = [sold("o1", "C1"), sold("o2", "C2"), sold("o3", "C3")]
    cols = ("customer_id", "sessions_30d", "page_views_30d", "cart_adds_30d", "minutes_on_site_30d", "last_active_date")
    run = run_model(spark, "gold.customer_analytics", {"silver_orders": orders, "silver_customer_behavior": [
        seen("C1", END, 2), seen("C1", "2024-05-05", 3),  # 05-05 is the 30th day back from 06-03: counted
        seen("C2", "2024-05-04", 7),  # the 31st day back: not counted
        seen("C3", "2024-06-04", 5),  # after dt: not counted
    ]}, END)
    out = [tuple(str(v) if v is not None else None for v in r.values()) for r in run.rows(*cols)]
    assert out == [("C1", "5", "7", "2", "20.00", END), ("C2", None, None, None, None, None),
                   ("C3", None, None, None, None, None)]
    assert run.contract.passed, run.contract.summary()

    # the behaviour source not configured: an empty upstream, every customer still published, engagement NULL
    bare = run_model(spark, "gold.customer_analytics", {"silver_orders": orders}, END)
    assert [r["customer_id"] for r in bare.rows("customer_id", "sessions_30d") if r["sessions_30d"] is None] == \
        ["C1", "C2", "C3"]
