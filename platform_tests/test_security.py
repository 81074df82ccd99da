"""Protecting the data: each case a probe of the platform found, reproduced with its expected clear refusal.

- a corpus of bad reads (system views behind CTE names, table functions, raw tables without the raw scope,
  runaway queries, absurd limits, deep nesting, statements that write), each refused in one line, through
  the Python API and through the CLI;
- PII: masked for readers without the pii scope (no probing through predicates either), raw tables only with
  the raw scope, the same masking in the SQL sent to Athena, silver/gold holding pseudonyms only, contract
  examples without PII columns, a salt required off the local disk;
- secrets: a billing DSN's password in no message, log, repr or traceback, however the DSN is malformed;
- rendering: data holding rich markup or terminal control sequences is shown, never interpreted.

Tables are written straight to the warehouse with delta-rs: no Spark here but in the last test.
"""
from __future__ import annotations

import logging

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from security_lake import CORPUS, DAY, EMAIL_HASH, ORDERS, RAW_EMAIL, SALT, Bad, security_tables

from lakehouse import cli
from lakehouse.config import Settings
from lakehouse.errors import ConfigError
from lakehouse.pipeline.registry import all_specs
from lakehouse.query import check, execute


def write(settings: Settings, table_id: str, table: pa.Table) -> None:
    layer, name = table_id.split(".")
    write_deltalake(f"{settings.warehouse}/{layer}/{name}", table, partition_by=["dt"], mode="overwrite")


@pytest.fixture(scope="module")
def lake_env(tmp_path_factory) -> dict[str, str]:
    """A warehouse holding a few tables shaped like the real ones, and the environment that points at it."""
    env = {"LAKEHOUSE_HOME": str(tmp_path_factory.mktemp("lake")), "LAKEHOUSE_GLUE_PREFIX": "lh"}
    settings = Settings.from_env(env)
    for table_id, rows in security_tables().items():
        write(settings, table_id, rows)
    return env


@pytest.fixture
def lake(lake_env, monkeypatch) -> Settings:
    for name in ("LAKEHOUSE_WAREHOUSE", "LAKEHOUSE_LANDING", "LAKEHOUSE_BILLING_DSN", "LAKEHOUSE_PII_SALT",
                 "LAKEHOUSE_QUERY_TIMEOUT", "LAKEHOUSE_QUERY_MEMORY_MB", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in lake_env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def _run(bad: Bad, monkeypatch):
    for name, value in bad.env.items():
        monkeypatch.setenv(name, value)
    return execute(bad.sql, settings=Settings.from_env(), limit=bad.limit, scopes=bad.scopes)


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 50


@pytest.mark.parametrize("bad", CORPUS.values(), ids=CORPUS.keys())
def test_bad_access_is_refused_with_one_clear_line(lake, monkeypatch, bad):
    with pytest.raises(bad.error) as err:
        _run(bad, monkeypatch)
    message = str(err.value)
    assert bad.says in message and "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("bad", CORPUS.values(), ids=CORPUS.keys())
def test_bad_access_through_the_cli_is_one_line_with_exit_code_2(lake, monkeypatch, capsys, bad):
    for name, value in bad.env.items():
        monkeypatch.setenv(name, value)
    args = ["query", bad.sql, "--limit", str(bad.limit)]
    for scope in bad.scopes:
        args += ["--scope", scope]
    if any(s not in ("pii", "raw") for s in bad.scopes):  # argparse refuses it before the query layer
        with pytest.raises(SystemExit):
            cli.main(args)
        assert "invalid choice: 'admin'" in capsys.readouterr().err
        return
    assert cli.main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1
    assert bad.says in err and "Traceback" not in err


def test_what_is_allowed_still_runs(lake):
    cte = execute("WITH pg_settings AS (SELECT region FROM silver.orders) SELECT DISTINCT region FROM pg_settings "
                  "ORDER BY 1", settings=lake)
    assert cte.table.column("region").to_pylist() == ["apac", "eu", "us"]  # the CTE, not the engine's view
    counted = execute("SELECT count(*) AS n FROM silver.orders a JOIN silver.orders b USING (order_id)", settings=lake)
    assert counted.table.to_pylist() == [{"n": ORDERS}]
    assert execute("SELECT * FROM silver.orders", settings=lake, limit=1_000_000).table.num_rows == ORDERS


# --- PII: masked for readers without the pii scope; raw tables with the raw scope only ---------------------

PII_COLUMNS = "customer_id, display_name, email_hash, email_masked, email_domain, phone_masked"


def test_pii_columns_are_masked_without_the_pii_scope(lake):
    rows = execute(f"SELECT {PII_COLUMNS} FROM silver.customers ORDER BY 1", settings=lake).table.to_pylist()
    assert rows == [
        {"customer_id": "c1", "display_name": "***", "email_hash": "***", "email_masked": "***",
         "email_domain": "example.com", "phone_masked": "***"},
        {"customer_id": "c2", "display_name": None, "email_hash": None, "email_masked": None, "email_domain": None,
         "phone_masked": None},  # NULL stays NULL: counts of present values still work
    ]
    # every way of reaching the table reads the masked view: *, a CTE, an alias, the Glue name
    for sql in ("SELECT * FROM silver.customers", "WITH c AS (SELECT * FROM silver.customers) SELECT * FROM c",
                "SELECT c.email_hash FROM lh_silver.customers AS c"):
        values = [v for row in execute(sql, settings=lake).table.to_pylist() for v in row.values()]
        assert EMAIL_HASH not in values and "Ann L." not in values and "***" in values


def test_masked_values_cannot_be_probed_through_predicates(lake):
    probe = f"SELECT count(*) AS n FROM silver.customers WHERE email_hash = '{EMAIL_HASH}'"
    assert execute(probe, settings=lake).table.to_pylist() == [{"n": 0}]
    assert execute(probe, settings=lake, scopes=["pii"]).table.to_pylist() == [{"n": 1}]
    starts = "SELECT count(*) AS n FROM silver.customers WHERE display_name LIKE 'A%'"
    assert execute(starts, settings=lake).table.to_pylist() == [{"n": 0}]


def test_the_pii_scope_reads_the_stored_pseudonyms(lake):
    row = execute(f"SELECT {PII_COLUMNS} FROM silver.customers WHERE customer_id = 'c1'", settings=lake,
                  scopes=["pii"]).table.to_pylist()[0]
    assert row["email_hash"] == EMAIL_HASH and row["display_name"] == "Ann L." and row["phone_masked"] == "***0134"


def test_raw_tables_with_the_raw_scope_still_mask_pii_without_the_pii_scope(lake):
    raw = execute("SELECT email, phone, customer_id FROM bronze.shop_customers", settings=lake, scopes=["raw"])
    assert raw.table.to_pylist() == [{"email": "***", "phone": "***", "customer_id": "c1"}]
    both = execute("SELECT email FROM bronze.shop_customers", settings=lake, scopes=["raw", "pii"])
    assert both.table.to_pylist() == [{"email": RAW_EMAIL}]
    record = execute("SELECT record FROM quarantine.bronze_shop_customers", settings=lake, scopes=["raw"])
    assert record.table.to_pylist() == [{"record": "***"}]  # the whole source line, PII included
    plain = execute("SELECT record FROM quarantine.silver_orders", settings=lake, scopes=["raw"])
    assert plain.table.to_pylist() == [{"record": '{"order_id": "o-1"}'}]  # no PII in orders: shown


def test_athena_gets_the_same_masking_as_a_subquery(lake):
    from lakehouse.query.athena import athena_sql

    sql = "SELECT c.email_hash, o.amount FROM silver.customers c JOIN silver.orders o USING (customer_id)"
    masked = athena_sql(check(sql, lake), lake, 10)
    assert "CASE WHEN \"email_hash\" IS NULL THEN NULL ELSE '***' END AS \"email_hash\"" in masked
    assert 'FROM "lh_silver"."customers") AS "c"' in masked and '"lh_silver"."orders" AS o' in masked
    assert "CASE" not in athena_sql(check(sql, lake, frozenset({"read", "pii"})), lake, 10)


SILVER_GOLD = [s for s in all_specs() if s.layer != "bronze"]
PSEUDONYM = ("display_name", "_hash", "_masked")
RAW_PII_NAMES = {"email", "phone", "first_name", "last_name", "full_name"}  # a company's linkedin_url is not personal


@pytest.mark.parametrize("spec", SILVER_GOLD, ids=[s.id for s in SILVER_GOLD])
def test_silver_and_gold_hold_pseudonyms_not_raw_pii(spec):
    columns = {c.name for c in spec.columns}
    assert set(spec.pii) <= columns, "a PII flag names a column the table does not have"
    assert all(c.endswith(PSEUDONYM) for c in spec.pii), f"raw PII kept: {spec.pii}"
    assert not columns & RAW_PII_NAMES, f"unflagged raw PII columns: {columns & RAW_PII_NAMES}"


def test_pseudonymizing_models_refuse_the_development_salt_off_the_local_disk(monkeypatch):
    from lakehouse.config import Settings
    from lakehouse.domains.pii import SaltedSql

    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", "s3://bucket/warehouse")
    monkeypatch.delenv("LAKEHOUSE_PII_SALT", raising=False)
    for spec in all_specs():
        if isinstance(spec.transform, SaltedSql):
            with pytest.raises(ConfigError, match="LAKEHOUSE_PII_SALT is not set, and the warehouse s3://bucket"):
                spec.transform(None, {}, DAY, DAY, Settings.from_env())  # refused before the session is touched


def test_materialize_off_the_local_disk_without_a_salt_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", "s3://bucket/warehouse")
    monkeypatch.delenv("LAKEHOUSE_PII_SALT", raising=False)
    for args in (["materialize", "--start", DAY, "--domain", "commerce"], ["demo", "--days", "1"]):
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: LAKEHOUSE_PII_SALT is not set") and err.count("\n") == 1


# --- secrets: the DSN's password nowhere --------------------------------------------------------------------

PASSWORD = "Sup3r S3cret"
BAD_DSNS = {  # DSN -> what the one line says is wrong (the password is always the same, spelled as it is)
    "spaces": ("postgresql://svc:Sup3r S3cret@db.example:5432/billing", "cannot hold spaces"),
    "unencoded-at": ("postgresql://svc:Sup3r@S3cret@db.example:5432/billing", "unencoded '@'"),
    "no-scheme": ("svc:Sup3rS3cret@db.example:5432/billing", "neither a postgresql:// URL nor key=value"),
    "other-scheme": ("mysql://svc:Sup3rS3cret@db.example/billing", "has the scheme 'mysql'"),
    "keyword-unquoted-space": ("host=db.example user=svc password=Sup3r S3cret dbname=billing",
                               "does not parse"),
    "broken-ipv6": ("postgresql://svc:Sup3rS3cret@[::1/billing", "does not parse"),
}


def _secret_free(text: str) -> bool:
    return all(p not in text for p in ("Sup3r", "S3cret", "Sup3rS3cret", "Sup3r%20S3cret"))


@pytest.mark.parametrize("dsn, says", BAD_DSNS.values(), ids=BAD_DSNS.keys())
def test_a_malformed_dsn_is_refused_when_settings_load_without_its_password(dsn, says):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"LAKEHOUSE_BILLING_DSN": dsn})
    message = str(err.value)
    assert message.startswith("LAKEHOUSE_BILLING_DSN=") and says in message and "***" in message
    assert _secret_free(message) and "\n" not in message


@pytest.mark.parametrize("dsn, says", BAD_DSNS.values(), ids=BAD_DSNS.keys())
def test_the_export_refuses_a_malformed_dsn_without_its_password(dsn, says, caplog):
    from lakehouse.domains.billing.bronze import SOURCES
    from lakehouse.ingest.postgres import SourceError, describe_dsn, export_day

    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as err:
        export_day(dsn, SOURCES["invoices"], DAY, retries=0)
    assert "malformed DSN" in str(err.value) and says in str(err.value)
    assert _secret_free(str(err.value)) and _secret_free(caplog.text) and _secret_free(describe_dsn(dsn))


def test_an_unreachable_source_is_reported_and_logged_without_the_password(caplog, monkeypatch, tmp_path):
    import tempfile

    from lakehouse.domains.billing.bronze import SOURCES
    from lakehouse.ingest.postgres import SourceUnavailable, export_day

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where an export without staging makes its folder
    dsn = "postgresql://svc:Sup3r%20S3cret@127.0.0.1:1/billing"  # nothing listens on port 1
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceUnavailable) as err:
        export_day(dsn, SOURCES["invoices"], DAY, retries=1, retry_delay=0)
    assert "postgresql://svc@127.0.0.1:1/billing" in str(err.value) and "retrying" in caplog.text
    assert _secret_free(str(err.value)) and _secret_free(caplog.text)
    assert list(tmp_path.iterdir()) == []  # the failed export's private staging folder is gone


def test_settings_repr_holds_neither_password_nor_salt():
    settings = Settings.from_env({"LAKEHOUSE_BILLING_DSN": "postgresql://svc:Sup3r%20S3cret@db:5432/billing",
                                  "LAKEHOUSE_PII_SALT": SALT})
    for text in (repr(settings), str(settings), f"{settings}", repr([settings])):
        assert _secret_free(text) and SALT not in text
        assert "postgresql://svc:***@db:5432/billing" in text and "pii_salt='***'" in text


@pytest.mark.parametrize("dsn", [d for d, _ in BAD_DSNS.values()], ids=BAD_DSNS.keys())
def test_land_billing_with_a_bad_dsn_prints_one_line(dsn, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_BILLING_DSN", dsn)
    assert cli.main(["land", "--domain", "billing", "--days", "1", "--rows", "5"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: LAKEHOUSE_BILLING_DSN=") and err.count("\n") == 1
    assert _secret_free(out + err) and "Traceback" not in err


def test_land_billing_into_an_unreachable_database_prints_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_BILLING_DSN", "postgresql://svc:Sup3r%20S3cret@127.0.0.1:1/billing")
    assert cli.main(["land", "--domain", "billing", "--days", "1", "--rows", "5"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: cannot seed billing into postgresql://svc@127.0.0.1:1/billing: ")
    assert err.count("\n") == 1 and _secret_free(out + err)


def test_an_error_quoting_the_dsn_is_scrubbed_before_it_is_printed(monkeypatch):
    dsn = "postgresql://svc:Sup3r%20S3cret@db:5432/billing"
    monkeypatch.setenv("LAKEHOUSE_BILLING_DSN", dsn)
    monkeypatch.setenv("LAKEHOUSE_PII_SALT", SALT)
    line = cli.error_line(ValueError(f"could not use {dsn} (password Sup3r S3cret)\nsalt {SALT}"))
    assert _secret_free(line) and SALT not in line and "\n" not in line


# --- configuration through the CLI ------------------------------------------------------------------------

@pytest.mark.parametrize("variable, value, says", [
    ("LAKEHOUSE_WAREHOUSE", "ftp://x", "LAKEHOUSE_WAREHOUSE='ftp://x' is not valid"),
    ("LAKEHOUSE_WAREHOUSE", "s3://", "LAKEHOUSE_WAREHOUSE='s3://' is not valid: expected s3://<bucket>"),
    ("LAKEHOUSE_WAREHOUSE", "{missing}", "no warehouse at file://"),
    ("LAKEHOUSE_WAREHOUSE", "{file}", "a folder, not a file"),
    ("LAKEHOUSE_RETENTION_BRONZE_DAYS", "abc", "LAKEHOUSE_RETENTION_BRONZE_DAYS='abc' is not valid"),
])
def test_status_with_a_bad_setting_is_one_line_not_zeros(monkeypatch, tmp_path, capsys, variable, value, says):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(variable, value.format(missing=tmp_path / "missing", file=a_file))
    assert cli.main(["status"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and says in err and err.count("\n") == 1


def test_a_bad_spark_conf_does_not_stop_a_query(lake, monkeypatch, capsys):
    monkeypatch.setenv("LAKEHOUSE_SPARK_CONF", "not json")
    assert cli.main(["query", "SELECT count(*) AS n FROM silver.orders", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ['"n"', str(ORDERS)]


# --- rendering: data is data ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, shown", [
    ("'[/bold]'", "[/bold]"),  # a closing tag with nothing open crashed rich's table
    ("'[link=https://evil.example]click[/link]'", "[link=https://evil.example]click[/link]"),
    ("'look :warning:'", "look :warning:"),
    ("chr(27) || '[2J'", "\\x1b[2J"),  # clear the screen
    ("chr(27) || ']8;;https://evil.example' || chr(7) || 'osc'", "\\x1b]8;;https://evil.example\\x07osc"),
    ("'ok' || chr(13) || 'forged'", "ok\\rforged"),  # a carriage return rewriting the line
    ("'abc' || chr(8238) || 'txt.exe'", "abc\\u202etxt.exe"),  # right-to-left override
])
def test_markup_and_control_sequences_in_data_are_shown_not_interpreted(lake, capsys, value, shown):
    assert cli.main(["query", f'SELECT {value} AS x, 1 AS "[bold red]col[/]"']) == 0
    out = capsys.readouterr().out
    assert shown in out and "[bold red]col[/]" in out
    assert not any(c in out for c in ("\x1b", "\r", "\x07", "\u202e", "⚠"))


def test_json_keeps_control_characters_escaped(lake, capsys):
    assert cli.main(["query", "SELECT chr(27) || '[31m' AS x", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\u001b[31m" in out


# --- contract examples never carry PII (Spark) --------------------------------------------------------------

def test_contract_failure_examples_leave_pii_columns_out(spark):
    from lakehouse.pipeline.registry import get_spec
    from lakehouse.quality.contracts import evaluate_contract

    row = ["k1", "Ann L.", EMAIL_HASH, RAW_EMAIL, "example.com", "Acme", "lead", None, None, None, False, "f", 1, DAY]
    frame = spark.createDataFrame([row, ["k1", *row[1:]]], "contact_id string, display_name string, "
                                  "email_hash string, email_masked string, email_domain string, company string, "
                                  "lifecycle_stage string, customer_id string, created_at timestamp, "
                                  "updated_at timestamp, is_archived boolean, _source_file string, "
                                  "_line_number bigint, dt string")
    result = evaluate_contract(frame, get_spec("silver.crm_contacts"))
    assert not result.passed
    checks = {f.check: f for f in result.failures}
    masked = next(f for f in result.failures if f.column == "email_masked")
    assert masked.failed_rows == 2 and masked.examples  # a raw email where a masked one belongs
    text = repr(result.metadata()) + result.summary()
    assert RAW_EMAIL not in text and EMAIL_HASH not in text and "Ann L." not in text
    assert all(set(e) & {"display_name", "email_hash", "email_masked"} == set() for e in masked.examples)
    assert checks["unique(dt, contact_id)"].failed_rows == 2
