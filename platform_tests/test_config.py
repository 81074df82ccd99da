"""Settings load from LAKEHOUSE_* variables and refuse a bad one with one line naming it, its value (secrets
masked) and what is allowed."""
from datetime import timedelta

import pytest

from lakehouse.config import DEV_PII_SALT, Settings, utc_today
from lakehouse.errors import ConfigError


@pytest.mark.parametrize("raw, store", [(None, "spark"), ("spark", "spark"), ("SPARK-NATIVE", "spark"), ("delta-rs", "delta-rs")])
def test_store_is_read_from_lakehouse_store(raw, store):
    env = {} if raw is None else {"LAKEHOUSE_STORE": raw}
    assert Settings.from_env(env).store == store


def test_defaults_load_from_an_empty_environment(tmp_path):
    settings = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path)})
    assert settings.warehouse == (tmp_path / "warehouse").as_uri()
    assert settings.retention_days == {"bronze": 90, "silver": 365, "gold": 730}
    assert (settings.table_format, settings.store, settings.spark_master) == ("delta", "spark", "local[*]")
    assert settings.pii_salt == DEV_PII_SALT and settings.database("billing").dsn is None
    assert settings.start_date == (utc_today() - timedelta(days=10)).isoformat()  # a few days before the demo's week
    assert Settings.from_env({"LAKEHOUSE_START_DATE": " 2025-02-10 "}).start_date == "2025-02-10"


def test_good_values_are_read(tmp_path):
    settings = Settings.from_env({
        "LAKEHOUSE_WAREHOUSE": "s3://my-bucket/warehouse/", "LAKEHOUSE_LANDING": str(tmp_path),
        "LAKEHOUSE_RETENTION_BRONZE_DAYS": " 30 ", "LAKEHOUSE_SPARK_MASTER": "spark://host:7077",
        "LAKEHOUSE_SPARK_CONF": "spark.a=1, spark.b = x", "LAKEHOUSE_GLUE_PREFIX": "lake_house",
        "LAKEHOUSE_BILLING_DSN": "postgresql://svc:pw@db:5432/billing", "LAKEHOUSE_BILLING_RETRIES": "0",
        "LAKEHOUSE_ATHENA_OUTPUT": "s3://my-bucket/athena/", "LAKEHOUSE_ATHENA_WORKGROUP": "primary",
        "LAKEHOUSE_QUERY_TIMEOUT": "2.5", "LAKEHOUSE_QUERY_ENGINE": "Trino",
        "LAKEHOUSE_TRINO_URL": "https://analyst@trino.internal:8443"})
    assert settings.warehouse == "s3://my-bucket/warehouse" and settings.landing == tmp_path.as_uri()
    assert settings.retention_days["bronze"] == 30 and settings.spark_conf == {"spark.a": "1", "spark.b": "x"}
    assert settings.database("billing").retries == 0 and settings.query_timeout == 2.5
    assert settings.athena_workgroup == "primary" and settings.glue_prefix == "lake_house"
    assert settings.query_engine == "trino" and settings.trino_url == "https://analyst@trino.internal:8443"
    assert Settings.from_env({"LAKEHOUSE_SPARK_CONF": '{"spark.x": 2, "spark.y": true}'}).spark_conf == {
        "spark.x": "2", "spark.y": "true"}


# (variable, bad value, what the one line must say is allowed)
BAD_SETTINGS = [
    ("LAKEHOUSE_RETENTION_BRONZE_DAYS", "0", "at least 1"),
    ("LAKEHOUSE_RETENTION_SILVER_DAYS", "-5", "at least 1"),
    ("LAKEHOUSE_RETENTION_GOLD_DAYS", "abc", "whole number of days"),
    ("LAKEHOUSE_RETENTION_GOLD_DAYS", "1.5", "whole number of days"),
    ("LAKEHOUSE_WAREHOUSE", "ftp://x", "s3://bucket/prefix"),
    ("LAKEHOUSE_WAREHOUSE", "s3://", "with a bucket name"),
    ("LAKEHOUSE_WAREHOUSE", "s3:///prefix", "with a bucket name"),
    ("LAKEHOUSE_LANDING", "http://example.com/landing", "s3://bucket/prefix"),
    ("LAKEHOUSE_TABLE_FORMAT", "csv", "'delta' or 'parquet'"),
    ("LAKEHOUSE_STORE", "arrow", "'spark' or 'delta-rs'"),
    ("LAKEHOUSE_GLUE_PREFIX", "my-lake", "letters, digits and _"),
    ("LAKEHOUSE_SPARK_MASTER", "localhost", "local[*], local[N]"),
    ("LAKEHOUSE_SPARK_REMOTE", "http://host:15002", "sc://host:port"),
    ("LAKEHOUSE_SQL_DIR", "/no/such/folder", "an existing folder"),
    ("LAKEHOUSE_ATHENA_OUTPUT", "/tmp/results", "s3://<bucket>"),
    ("LAKEHOUSE_ATHENA_WORKGROUP", "my group", "workgroup name"),
    ("LAKEHOUSE_BILLING_EXPORT_MODE", "delta", "'incremental' or 'full'"),
    ("LAKEHOUSE_BILLING_BATCH_ROWS", "0", "at least 1"),
    ("LAKEHOUSE_BILLING_RETRIES", "-1", "at least 0"),
    ("LAKEHOUSE_BILLING_RETRY_DELAY", "soon", "number of seconds"),
    ("LAKEHOUSE_BILLING_RETRY_DELAY", "nan", "number of seconds"),
    ("LAKEHOUSE_QUERY_TIMEOUT", "0", "from 0.1 to 3600"),
    ("LAKEHOUSE_QUERY_TIMEOUT", "1e12", "from 0.1 to 3600"),
    ("LAKEHOUSE_QUERY_MEMORY_MB", "lots", "megabytes"),
    ("LAKEHOUSE_QUERY_ENGINE", "presto", "'local' or 'athena' or 'trino'"),
    ("LAKEHOUSE_TRINO_URL", "ftp://trino:8080", "http(s)://[user@]host:port"),
    ("LAKEHOUSE_START_DATE", "2024-6-1", "a day YYYY-MM-DD"),
    ("LAKEHOUSE_START_DATE", "2999-01-01", "to today"),
]


@pytest.mark.parametrize("variable, value, allowed", BAD_SETTINGS)
def test_a_bad_variable_fails_with_one_line_naming_it(variable, value, allowed):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({variable: value})
    message = str(err.value)
    assert message.startswith(f"{variable}={value!r} is not valid: expected ") and allowed in message
    assert "\n" not in message


def test_a_trino_url_with_a_password_is_refused_without_showing_it():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"LAKEHOUSE_TRINO_URL": "http://analyst:s3cret@trino:8080"})
    assert str(err.value).startswith("LAKEHOUSE_TRINO_URL=*** is not valid") and "s3cret" not in str(err.value)


def test_a_warehouse_that_is_a_file_is_refused(tmp_path):
    a_file = tmp_path / "warehouse.txt"
    a_file.write_text("not a folder")
    for value in (str(a_file), a_file.as_uri()):
        with pytest.raises(ConfigError, match="LAKEHOUSE_WAREHOUSE=.* a folder, not a file"):
            Settings.from_env({"LAKEHOUSE_WAREHOUSE": value})
    with pytest.raises(ConfigError, match="LAKEHOUSE_HOME=.* a folder, not a file"):
        Settings.from_env({"LAKEHOUSE_HOME": str(a_file)})


def test_a_missing_local_warehouse_loads_because_runs_create_it(tmp_path):
    assert Settings.from_env({"LAKEHOUSE_WAREHOUSE": str(tmp_path / "new")}).warehouse.endswith("/new")


def test_bad_spark_conf_fails_only_where_spark_reads_it():
    settings = Settings.from_env({"LAKEHOUSE_SPARK_CONF": "not json"})  # query, status, tables still work
    assert "invalid" in repr(settings)
    for use in (lambda c: dict(c), lambda c: c.items() and list(c.items()), lambda c: {**c}, lambda c: c["k"]):
        with pytest.raises(ConfigError, match=r"LAKEHOUSE_SPARK_CONF='not json' is not valid: expected a JSON object"):
            use(settings.spark_conf)
    for raw in ('{"a": ', '["a"]', '{"a": {"b": 1}}', "a=1,=2"):
        with pytest.raises(ConfigError, match="LAKEHOUSE_SPARK_CONF"):
            dict(Settings.from_env({"LAKEHOUSE_SPARK_CONF": raw}).spark_conf)


def test_a_blank_salt_is_refused_without_showing_it():
    with pytest.raises(ConfigError, match=r"LAKEHOUSE_PII_SALT=\*\*\* is not valid"):
        Settings.from_env({"LAKEHOUSE_PII_SALT": "   "})


def test_runs_off_the_local_disk_need_a_salt(tmp_path):
    local = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path)})
    assert local.for_run() is local  # the development salt is fine on a laptop
    remote = Settings.from_env({"LAKEHOUSE_WAREHOUSE": "s3://bucket/warehouse"})
    with pytest.raises(ConfigError, match=r"^LAKEHOUSE_PII_SALT is not set, and the warehouse s3://bucket/warehouse "
                                          r"is not on the local disk: set it"):
        remote.for_run()
    salted = Settings.from_env({"LAKEHOUSE_WAREHOUSE": "s3://bucket/warehouse", "LAKEHOUSE_PII_SALT": "pepper-42"})
    assert salted.for_run() is salted
