"""Where the lakehouse lives and how it reaches Spark and AWS, resolved from the environment at call time.

Nothing here runs at import: resources and commands call `Settings.from_env()` when they need it, so tests
change the environment with monkeypatch and never reload modules.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from lakehouse.errors import ConfigError

LAYERS = ("bronze", "silver", "gold")
DEFAULT_RETENTION_DAYS = {"bronze": 90, "silver": 365, "gold": 730}
# Salt mixed into hashes of personal data (e.g. silver.apollo_contacts.email_hash). This default is for
# local development and tests only: set LAKEHOUSE_PII_SALT to a secret value in production.
DEV_PII_SALT = "dev-only-insecure-pii-salt"
# How runs write tables: "spark" (Spark's own writers) or "delta-rs" (Arrow through delta-rs).
# "spark-native" was the name of the Spark path before it became the default; old environments keep working.
STORES = ("spark", "delta-rs")
_STORE_ALIASES = {"spark-native": "spark"}


def _parse_store(raw: str | None) -> str:
    value = (raw or "spark").strip().lower()
    value = _STORE_ALIASES.get(value, value)
    if value not in STORES:
        raise ConfigError("LAKEHOUSE_STORE", raw, "'spark' (default) or 'delta-rs'")
    return value


def _as_uri(location: str) -> str:
    """Accept a plain path or a URI; return a URI without a trailing slash."""
    if "://" in location:
        return location.rstrip("/")
    return Path(location).expanduser().resolve().as_uri()


def _parse_conf(raw: str | None) -> dict[str, str]:
    """LAKEHOUSE_SPARK_CONF is JSON ({"k": "v"}) or comma-separated k=v pairs."""
    if not raw:
        return {}
    raw = raw.strip()
    if raw.startswith("{"):
        return {str(k): str(v) for k, v in json.loads(raw).items()}
    pairs = [item.split("=", 1) for item in raw.split(",") if item.strip()]
    return {k.strip(): v.strip() for k, v in pairs}


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse: str
    landing: str
    glue_prefix: str | None = None
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    spark_master: str = "local[*]"
    spark_remote: str | None = None
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    sql_dir: Path | None = None
    table_format: str = "delta"
    store: str = "spark"  # env LAKEHOUSE_STORE: "spark" or "delta-rs" (see STORES)
    athena_output: str | None = None
    retention_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RETENTION_DAYS))
    pii_salt: str = DEV_PII_SALT
    """Salt for hashing personal data (env LAKEHOUSE_PII_SALT). The default is a development value: set
    LAKEHOUSE_PII_SALT to a secret in production, and keep it stable (changing it changes every hash)."""
    # billing: the PostgreSQL export (lakehouse.ingest.postgres); the DSN is never logged with its password
    billing_dsn: str | None = None
    billing_export_mode: str = "incremental"  # "incremental" (each table's day window) or "full"
    billing_batch_rows: int = 10_000  # rows per server-side cursor fetch = rows held in Python at once
    billing_retries: int = 3  # further attempts of a day's export after a transient connection error
    billing_retry_delay: float = 1.0  # seconds before the first retry, doubled each time

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        home = Path(env.get("LAKEHOUSE_HOME", ".lakehouse")).expanduser().resolve()
        retention = dict(DEFAULT_RETENTION_DAYS)
        for layer in LAYERS:
            value = env.get(f"LAKEHOUSE_RETENTION_{layer.upper()}_DAYS")
            if value:
                retention[layer] = int(value)
        fmt = env.get("LAKEHOUSE_TABLE_FORMAT", "delta").lower()
        if fmt not in ("delta", "parquet"):
            raise ValueError(f"LAKEHOUSE_TABLE_FORMAT must be 'delta' or 'parquet', not {fmt!r}")
        return cls(
            home=home,
            warehouse=_as_uri(env.get("LAKEHOUSE_WAREHOUSE") or str(home / "warehouse")),
            landing=_as_uri(env.get("LAKEHOUSE_LANDING") or str(home / "landing")),
            glue_prefix=env.get("LAKEHOUSE_GLUE_PREFIX") or None,
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            spark_master=env.get("LAKEHOUSE_SPARK_MASTER") or "local[*]",
            spark_remote=env.get("LAKEHOUSE_SPARK_REMOTE") or env.get("SPARK_REMOTE") or None,
            spark_conf=_parse_conf(env.get("LAKEHOUSE_SPARK_CONF")),
            sql_dir=Path(env["LAKEHOUSE_SQL_DIR"]) if env.get("LAKEHOUSE_SQL_DIR") else None,
            table_format=fmt,
            store=_parse_store(env.get("LAKEHOUSE_STORE")),
            athena_output=env.get("LAKEHOUSE_ATHENA_OUTPUT") or None,
            retention_days=retention,
            pii_salt=env.get("LAKEHOUSE_PII_SALT") or DEV_PII_SALT,
            billing_dsn=env.get("LAKEHOUSE_BILLING_DSN") or None,
            billing_export_mode=(env.get("LAKEHOUSE_BILLING_EXPORT_MODE") or "incremental").lower(),
            billing_batch_rows=int(env.get("LAKEHOUSE_BILLING_BATCH_ROWS") or 10_000),
            billing_retries=int(env.get("LAKEHOUSE_BILLING_RETRIES") or 3),
            billing_retry_delay=float(env.get("LAKEHOUSE_BILLING_RETRY_DELAY") or 1.0),
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @property
    def catalog_enabled(self) -> bool:
        return self.glue_prefix is not None

    def glue_database(self, layer: str) -> str:
        return f"{self.glue_prefix}_{layer}"
