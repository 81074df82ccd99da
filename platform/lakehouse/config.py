"""Where the lakehouse lives and how it reaches Spark and AWS, resolved from the environment at call time.

Nothing here runs at import: each entry point (the `lakehouse` command, the code location, the two Dagster
resources, the Kafka and Spark Connect commands) resolves the settings once and passes them down, so tests
change the environment with monkeypatch and never reload modules. Every LAKEHOUSE_* variable is checked as
it is read: a bad one raises ConfigError naming the variable, its value (secrets masked) and what is allowed.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Mapping

from lakehouse.errors import ConfigError
from lakehouse.secrets import MASK, DsnError, check_dsn, mask_dsn

LAYERS = ("bronze", "silver", "gold")
# The first partition of every table when LAKEHOUSE_START_DATE is unset: 10 days before today (UTC). `lakehouse demo`
# and `land` default to the 7 days up to yesterday, so the UI lists today, the 7 landed days, then 3 days with nothing
# landed: mostly green, with a clear edge where the data starts. Days are UTC (as Dagster's daily partitions are), so
# every process computes the same start on the same day and a code location that reloads sees the same partitions.
DEFAULT_START_DAYS_BACK = 10
DEFAULT_RETENTION_DAYS = {"bronze": 90, "silver": 365, "gold": 730}
# Salt mixed into hashes of personal data (e.g. silver.apollo_contacts.email_hash). This default is for
# local development and tests only: a warehouse off the local disk refuses to run with it (for_run).
DEV_PII_SALT = "dev-only-insecure-pii-salt"
# How runs write tables: "spark" (Spark's own writers) or "delta-rs" (Arrow through delta-rs).
# "spark-native" was the name of the Spark path before it became the default; old environments keep working.
STORES = ("spark", "delta-rs")
_STORE_ALIASES = {"spark-native": "spark"}
EXPORT_MODES = ("incremental", "full")
# Source databases a DatabaseSource may name (lakehouse.ingest.database): each is configured by
# LAKEHOUSE_<NAME>_DSN, _EXPORT_MODE, _BATCH_ROWS, _RETRIES and _RETRY_DELAY, validated here.
DATABASES = ("billing", "redshift")
_SPARK_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\s*\d+)?\])?|local-cluster\[[\d,\s]+\]|yarn|(spark|k8s|mesos)://\S+)$")
_SPARK_REMOTE = re.compile(r"^(sc://\S+|local(\[(\*|\d+)\])?)$")
_GLUE_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_WORKGROUP = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_KAFKA_BOOTSTRAP = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}(,[A-Za-z0-9.\-\[\]:]+:\d{1,5})*$")
_KAFKA_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_TRINO_URL = re.compile(r"^https?://([A-Za-z0-9._-]+@)?[A-Za-z0-9.\-\[\]:]+(:\d{1,5})?/?$")
QUERY_ENGINES = ("local", "athena", "trino")  # lakehouse.query.run: DuckDB here, Athena, a Trino server
LOCATIONS = "a local path, file:///path or s3://bucket/prefix"
# Upper bounds of the query limits: a statement timeout past an hour is an export, not a query (and a huge one
# overflowed the timer); one query's memory can never be more than the machine has.
MAX_QUERY_TIMEOUT = 3600.0


class InvalidSparkConf(Mapping[str, str]):
    """LAKEHOUSE_SPARK_CONF that does not parse: only a command that starts Spark reads it, and fails then.

    `lakehouse query`, `status` or `tables` never start Spark, so a broken Spark setting must not stop them.
    """

    def __init__(self, error: ConfigError):
        self.error = error

    def __getitem__(self, key: str) -> str:
        raise self.error

    def __iter__(self) -> Iterator[str]:
        raise self.error

    def __len__(self) -> int:
        raise self.error

    def __repr__(self) -> str:
        return f"<invalid: {self.error}>"


def _as_uri(location: str) -> str:
    """Accept a plain path or a URI; return a URI without a trailing slash."""
    if "://" in location:
        return location.rstrip("/")
    return Path(location).expanduser().resolve().as_uri()


def _location(env: Mapping[str, str], name: str, default: Path) -> str:
    """A folder as a URI: local (which need not exist yet: runs create it) or s3://bucket[/prefix]."""
    raw = env.get(name)
    if not raw:
        return _as_uri(str(default))
    value = raw.strip()
    scheme, sep, rest = value.partition("://")
    if sep and scheme.lower() in ("s3", "s3a"):
        if not _BUCKET.match(rest.split("/", 1)[0]):
            raise ConfigError.invalid(name, raw, f"s3://<bucket>/<prefix> with a bucket name ({LOCATIONS})")
        return value.rstrip("/")
    if sep and scheme.lower() != "file":
        raise ConfigError.invalid(name, raw, LOCATIONS)
    path = Path(rest if sep else value).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError.invalid(name, raw, f"a folder, not a file ({LOCATIONS})")
    return value.rstrip("/") if sep else _as_uri(value)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, meaning: str,
         maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError.invalid(name, raw, f"a whole number of {meaning}, {bounds}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float, meaning: str,
           maximum: float | None = None) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum:g} to {maximum:g}" if maximum is not None else f"at least {minimum:g}"
        raise ConfigError.invalid(name, raw, f"a number of {meaning}, {bounds}")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> str:
    raw = env.get(name)
    value = (raw or allowed[0]).strip().lower()
    value = (aliases or {}).get(value, value)
    if value not in allowed:
        listed = " or ".join(repr(a) for a in allowed)
        raise ConfigError.invalid(name, raw, f"{listed} (default {allowed[0]!r})")
    return value


def _pattern(env: Mapping[str, str], name: str, pattern: re.Pattern, allowed: str, default: str | None = None):
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    if not pattern.match(raw.strip()):
        raise ConfigError.invalid(name, raw, allowed)
    return raw.strip()


def _spark_conf(env: Mapping[str, str]) -> Mapping[str, str]:
    """LAKEHOUSE_SPARK_CONF is JSON ({"k": "v"}) or comma-separated k=v pairs."""
    raw = (env.get("LAKEHOUSE_SPARK_CONF") or "").strip()
    if not raw:
        return {}
    error = ConfigError.invalid("LAKEHOUSE_SPARK_CONF", raw, 'a JSON object {"spark.key": "value"} or k=v,k=v pairs')
    if raw.startswith("{"):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return InvalidSparkConf(error)
        if not isinstance(parsed, dict) or any(isinstance(v, (dict, list)) for v in parsed.values()):
            return InvalidSparkConf(error)
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in parsed.items()}
    pairs = [item.split("=", 1) for item in raw.split(",") if item.strip()]
    if any(len(pair) != 2 or not pair[0].strip() for pair in pairs):
        return InvalidSparkConf(error)
    return {k.strip(): v.strip() for k, v in pairs}


def host_memory_mb() -> int:
    """The machine's physical memory in megabytes (the ceiling of LAKEHOUSE_QUERY_MEMORY_MB)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def _share(env: Mapping[str, str], name: str, whole: int, whole_name: str, default: int, meaning: str) -> int:
    """A per-key share of a service-wide amount: from 1 to the whole (LAKEHOUSE_SERVE_CONCURRENCY, ...)."""
    value = _int(env, name, default, 1, meaning)
    if value > whole:
        raise ConfigError.invalid(name, env.get(name), f"a whole number of {meaning} from 1 to {whole} "
                                  f"({whole_name}, the service's whole)")
    return value


def _retention(env: Mapping[str, str]) -> dict[str, int]:
    # 0 or less would expire every partition (and its quarantine) at the next maintenance run
    return {layer: _int(env, f"LAKEHOUSE_RETENTION_{layer.upper()}_DAYS", days, 1, "days")
            for layer, days in DEFAULT_RETENTION_DAYS.items()}


@dataclass(frozen=True)
class DatabaseSettings:
    """One source database's connection and export settings (env LAKEHOUSE_<NAME>_*); the DSN is never shown."""

    name: str
    dsn: str | None = None
    export_mode: str = "incremental"  # "incremental" (each table's day window) or "full"
    batch_rows: int = 10_000  # rows per server-side cursor fetch = rows held in Python at once
    retries: int = 3  # further attempts of a day's export after a transient connection error
    retry_delay: float = 1.0  # seconds before the first retry, doubled each time

    def __repr__(self) -> str:
        return (f"DatabaseSettings(name={self.name!r}, dsn={mask_dsn(self.dsn)!r}, export_mode={self.export_mode!r}, "
                f"batch_rows={self.batch_rows}, retries={self.retries}, retry_delay={self.retry_delay})")

    __str__ = __repr__


def _dsn(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        check_dsn(raw.strip())
    except DsnError as exc:  # the message already shows the DSN masked
        raise ConfigError(f"{name}={exc}") from None
    return raw.strip()


def _database(env: Mapping[str, str], name: str) -> DatabaseSettings:
    prefix = f"LAKEHOUSE_{name.upper()}"
    return DatabaseSettings(
        name=name, dsn=_dsn(env, f"{prefix}_DSN"),
        export_mode=_choice(env, f"{prefix}_EXPORT_MODE", EXPORT_MODES),
        batch_rows=_int(env, f"{prefix}_BATCH_ROWS", 10_000, 1, "rows"),
        retries=_int(env, f"{prefix}_RETRIES", 3, 0, "retries"),
        retry_delay=_float(env, f"{prefix}_RETRY_DELAY", 1.0, 0, "seconds"),
    )


def utc_today() -> date:
    """Today as Dagster's daily partitions count it (UTC), whatever the machine's time zone."""
    return datetime.now(timezone.utc).date()


def default_start_date() -> str:
    return (utc_today() - timedelta(days=DEFAULT_START_DAYS_BACK)).isoformat()


def _start_date(env: Mapping[str, str]) -> str:
    raw = env.get("LAKEHOUSE_START_DATE")
    if raw is None or not raw.strip():
        return default_start_date()
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        day = None
    if day is None or len(raw.strip()) != 10 or not date(2000, 1, 1) <= day <= utc_today():
        raise ConfigError.invalid("LAKEHOUSE_START_DATE", raw, "a day YYYY-MM-DD from 2000-01-01 to today (UTC): the "
                                  f"first partition of every table (unset: {DEFAULT_START_DAYS_BACK} days before today)")
    return day.isoformat()


def _pii_salt(env: Mapping[str, str]) -> str:
    raw = env.get("LAKEHOUSE_PII_SALT")
    if raw is None or raw == "":
        return DEV_PII_SALT
    if not raw.strip():
        raise ConfigError.invalid("LAKEHOUSE_PII_SALT", raw, "a secret of visible characters (not only spaces)", secret=True)
    return raw


def _sql_dir(env: Mapping[str, str]) -> Path | None:
    raw = env.get("LAKEHOUSE_SQL_DIR")
    if not raw:
        return None
    if not Path(raw).expanduser().is_dir():
        raise ConfigError.invalid("LAKEHOUSE_SQL_DIR", raw, "an existing folder holding <layer>/<table>.sql")
    return Path(raw).expanduser()


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw.strip()) <= 65535:
        raise ConfigError.invalid(name, raw, "a TCP port, from 1 to 65535")
    return int(raw.strip())


def _file(env: Mapping[str, str], name: str, meaning: str) -> Path | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    path = Path(raw.strip()).expanduser()
    if path.is_dir():
        raise ConfigError.invalid(name, raw, f"the path of a file ({meaning}), not a folder")
    return path.resolve()


def _athena_output(env: Mapping[str, str]) -> str | None:
    raw = env.get("LAKEHOUSE_ATHENA_OUTPUT")
    if not raw:
        return None
    scheme, sep, rest = raw.strip().partition("://")
    if scheme.lower() != "s3" or not sep or not _BUCKET.match(rest.split("/", 1)[0]):
        raise ConfigError.invalid("LAKEHOUSE_ATHENA_OUTPUT", raw, "s3://<bucket>/<prefix>/ for Athena's results")
    return raw.strip()


def _trino_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("LAKEHOUSE_TRINO_URL")
    if raw is None or not raw.strip():
        return None
    if not _TRINO_URL.match(raw.strip()):  # a URL with user info may hold a password: never shown
        raise ConfigError.invalid("LAKEHOUSE_TRINO_URL", raw, "http(s)://[user@]host:port of a Trino server, "
                                  "without a password", secret="@" in raw)
    return raw.strip()


@dataclass(frozen=True)
class AwsKeys:
    """Static AWS keys from the environment (AWS_ACCESS_KEY_ID, ...); without them, boto3, pyarrow and S3A each
    use the usual AWS chain (instance profile, web identity, ...). Never shown: the repr hides every value."""
    access_key: str
    secret_key: str
    session_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "AwsKeys | None":
        key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        return cls(key, secret, env.get("AWS_SESSION_TOKEN") or None) if key and secret else None

    def __repr__(self) -> str:
        return f"AwsKeys({MASK})"

    __str__ = __repr__


def secrets_in_env(env: Mapping[str, str] | None = None) -> tuple[str | None, tuple[str | None, ...]]:
    """(the billing DSN, other secret values) as set, even when the settings would not parse: what an error
    message is scrubbed of before a person sees it."""
    env = os.environ if env is None else env
    return env.get("LAKEHOUSE_BILLING_DSN"), (env.get("LAKEHOUSE_PII_SALT"), env.get("AWS_SECRET_ACCESS_KEY"),
                                              env.get("AWS_SESSION_TOKEN"))


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse: str
    landing: str
    glue_prefix: str | None = None
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    aws_keys: AwsKeys | None = None
    spark_master: str = "local[*]"
    spark_remote: str | None = None
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    sql_dir: Path | None = None
    table_format: str = "delta"
    store: str = "spark"  # env LAKEHOUSE_STORE: "spark" or "delta-rs" (see STORES)
    athena_output: str | None = None
    athena_workgroup: str | None = None
    retention_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RETENTION_DAYS))
    # env LAKEHOUSE_START_DATE: the first partition of every table (unset: DEFAULT_START_DAYS_BACK days before today)
    start_date: str = field(default_factory=default_start_date)
    pii_salt: str = DEV_PII_SALT
    """Salt for hashing personal data (env LAKEHOUSE_PII_SALT). The default is a development value: set
    LAKEHOUSE_PII_SALT to a secret in production, and keep it stable (changing it changes every hash)."""
    # source databases by name (DATABASES), read by lakehouse.ingest.database; DSNs are never shown
    databases: Mapping[str, DatabaseSettings] = field(
        default_factory=lambda: {name: DatabaseSettings(name) for name in DATABASES})
    # the local query engine's limits (lakehouse.query.limits): each stops a query with one clear line
    query_timeout: float = 60.0  # seconds
    query_memory_mb: int = 1024
    query_engine: str = "local"  # the engine of `lakehouse query` and the service when a query names none
    trino_url: str | None = None  # the Trino server of the trino engine, http(s)://[user@]host:port
    # the query service (lakehouse.service): where it listens, its files, and what one key may do
    serve_port: int = 8080
    serve_keys: Path | None = None  # the API key file (hashes only); None: <home>/service/keys.json
    serve_audit: Path | None = None  # the audit log (JSON lines); None: <home>/service/audit.jsonl
    serve_rate_per_minute: int = 120  # requests per key and minute (a key may have its own)
    serve_burst: int = 20  # requests a key may make at once before the rate applies
    serve_max_rows: int = 100_000  # most rows one query's result keeps (its pages are served from it)
    serve_max_result_mb: int = 64  # most bytes one result may take in memory
    serve_cache_mb: int = 256  # results kept for paging, all keys together
    serve_result_ttl: float = 600.0  # seconds a result is kept after its last page was read
    serve_concurrency: int = 4  # queries running at once; more wait for a slot
    serve_key_concurrency: int = 2  # queries one key may run at once (of serve_concurrency); more get 429
    serve_key_cache_mb: int = 64  # kept results of one key (of serve_cache_mb): a key only evicts its own
    serve_auth_failures: int = 10  # requests with a bad or no key per client address and minute; then 429
    dagster_home: Path | None = None  # DAGSTER_HOME: runs are recorded in that instance (and shown in the UI)
    # Kafka: bronze.events_kafka reads this topic (lakehouse.ingest.kafka); unset bootstrap = Kafka off
    kafka_bootstrap: str | None = None  # host:port[,host:port...]
    kafka_topic: str = "clicks"
    kafka_batch_messages: int = 500_000  # most messages per partition in one bronze commit
    # a re-run that changes a closed day (older than this many days) by more than this share of its rows or of a
    # measure's sum warns (the `rerun_diff` check; quality.diff)
    closed_day_age_days: int = 7
    closed_day_change_share: float = 0.01

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        concurrency = _int(env, "LAKEHOUSE_SERVE_CONCURRENCY", 4, 1, "queries")
        cache_mb = _int(env, "LAKEHOUSE_SERVE_CACHE_MB", 256, 1, "megabytes")
        home_raw = env.get("LAKEHOUSE_HOME") or ".lakehouse"
        home = Path(home_raw).expanduser().resolve()
        if home.exists() and not home.is_dir():
            raise ConfigError.invalid("LAKEHOUSE_HOME", home_raw, "a folder, not a file")
        return cls(
            home=home,
            warehouse=_location(env, "LAKEHOUSE_WAREHOUSE", home / "warehouse"),
            landing=_location(env, "LAKEHOUSE_LANDING", home / "landing"),
            glue_prefix=_pattern(env, "LAKEHOUSE_GLUE_PREFIX", _GLUE_PREFIX,
                                 "letters, digits and _, starting with a letter (Glue databases are <prefix>_<layer>)"),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            aws_keys=AwsKeys.from_env(env),
            dagster_home=Path(env["DAGSTER_HOME"]).expanduser() if env.get("DAGSTER_HOME") else None,
            spark_master=_pattern(env, "LAKEHOUSE_SPARK_MASTER", _SPARK_MASTER,
                                  "local[*], local[N], spark://host:7077, yarn or k8s://...", "local[*]"),
            spark_remote=(_pattern(env, "LAKEHOUSE_SPARK_REMOTE", _SPARK_REMOTE, "sc://host:port or local[N]")
                          or _pattern(env, "SPARK_REMOTE", _SPARK_REMOTE, "sc://host:port or local[N]")),
            spark_conf=_spark_conf(env),
            sql_dir=_sql_dir(env),
            table_format=_choice(env, "LAKEHOUSE_TABLE_FORMAT", ("delta", "parquet")),
            store=_choice(env, "LAKEHOUSE_STORE", STORES, _STORE_ALIASES),
            athena_output=_athena_output(env),
            athena_workgroup=_pattern(env, "LAKEHOUSE_ATHENA_WORKGROUP", _WORKGROUP,
                                      "an Athena workgroup name (letters, digits, . _ -)"),
            retention_days=_retention(env),
            start_date=_start_date(env),
            pii_salt=_pii_salt(env),
            databases={name: _database(env, name) for name in DATABASES},
            query_timeout=_float(env, "LAKEHOUSE_QUERY_TIMEOUT", 60.0, 0.1, "seconds", MAX_QUERY_TIMEOUT),
            query_memory_mb=_int(env, "LAKEHOUSE_QUERY_MEMORY_MB", 1024, 16, "megabytes (at most this machine's "
                                 "memory)", host_memory_mb()),
            query_engine=_choice(env, "LAKEHOUSE_QUERY_ENGINE", QUERY_ENGINES),
            trino_url=_trino_url(env),
            serve_port=_port(env, "LAKEHOUSE_SERVE_PORT", 8080),
            serve_keys=_file(env, "LAKEHOUSE_SERVE_KEYS", "the service's API key file"),
            serve_audit=_file(env, "LAKEHOUSE_SERVE_AUDIT", "the service's audit log"),
            serve_rate_per_minute=_int(env, "LAKEHOUSE_SERVE_RATE", 120, 1, "requests per key and minute"),
            serve_burst=_int(env, "LAKEHOUSE_SERVE_BURST", 20, 1, "requests"),
            serve_max_rows=_int(env, "LAKEHOUSE_SERVE_MAX_ROWS", 100_000, 1, "rows", 1_000_000),  # query.limits.MAX_ROWS
            serve_max_result_mb=_int(env, "LAKEHOUSE_SERVE_MAX_RESULT_MB", 64, 1, "megabytes"),
            serve_cache_mb=cache_mb,
            serve_result_ttl=_float(env, "LAKEHOUSE_SERVE_RESULT_TTL", 600.0, 1, "seconds"),
            serve_concurrency=concurrency,
            serve_key_concurrency=_share(env, "LAKEHOUSE_SERVE_KEY_CONCURRENCY", concurrency,
                                         "LAKEHOUSE_SERVE_CONCURRENCY", max(1, concurrency // 2), "queries"),
            serve_key_cache_mb=_share(env, "LAKEHOUSE_SERVE_KEY_CACHE_MB", cache_mb, "LAKEHOUSE_SERVE_CACHE_MB",
                                      max(1, cache_mb // 4), "megabytes"),
            serve_auth_failures=_int(env, "LAKEHOUSE_SERVE_AUTH_FAILURES", 10, 1,
                                     "failed authentications per client address and minute", 10_000),
            kafka_bootstrap=_pattern(env, "LAKEHOUSE_KAFKA_BOOTSTRAP", _KAFKA_BOOTSTRAP,
                                     "host:port[,host:port...] of Kafka brokers"),
            kafka_topic=_pattern(env, "LAKEHOUSE_KAFKA_TOPIC", _KAFKA_TOPIC,
                                 "a Kafka topic name (letters, digits, . _ -, at most 249)", "clicks"),
            kafka_batch_messages=_int(env, "LAKEHOUSE_KAFKA_BATCH_MESSAGES", 500_000, 1, "messages per partition"),
            closed_day_age_days=_int(env, "LAKEHOUSE_CLOSED_DAY_AGE_DAYS", 7, 0, "days after which a day is closed"),
            closed_day_change_share=_float(env, "LAKEHOUSE_CLOSED_DAY_CHANGE_SHARE", 0.01, 0,
                                           "a closed day's rows a re-run may change unwarned, as a share (0.01 = 1%)"),
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    def __repr__(self) -> str:  # what a log, an error or Dagster shows: never the password or the salt
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["pii_salt"] = "<development salt>" if self.pii_salt == DEV_PII_SALT else MASK
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    __str__ = __repr__

    def database(self, name: str) -> DatabaseSettings:
        """The settings of source database `name` (one of DATABASES)."""
        if name not in self.databases:
            raise ConfigError(f"no source database {name!r} is known; known: {', '.join(sorted(self.databases))} "
                              "(lakehouse.config.DATABASES)")
        return self.databases[name]

    @property
    def warehouse_is_local(self) -> bool:
        return self.warehouse.startswith("file://")

    def for_run(self) -> "Settings":
        """These settings, checked for a run that writes tables: hashes of personal data written off the local
        disk must not use the development salt (anyone holding the repository could reverse them)."""
        if not self.warehouse_is_local and self.pii_salt == DEV_PII_SALT:
            raise ConfigError(
                f"LAKEHOUSE_PII_SALT is not set, and the warehouse {self.warehouse} is not on the local disk: set it "
                "to a long random secret and keep it stable (it salts the hashes of personal data)")
        return self

    @property
    def serve_keys_file(self) -> Path:
        return self.serve_keys or self.home / "service" / "keys.json"

    @property
    def serve_audit_file(self) -> Path:
        return self.serve_audit or self.home / "service" / "audit.jsonl"

    @property
    def catalog_enabled(self) -> bool:
        return self.glue_prefix is not None

    def glue_database(self, layer: str) -> str:
        return f"{self.glue_prefix}_{layer}"
