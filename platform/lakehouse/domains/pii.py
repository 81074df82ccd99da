"""Models that pseudonymize personal data: their SQL runs with the PII salt bound as :pii_salt.

The salt comes from the settings (LAKEHOUSE_PII_SALT), never from the SQL text, so it is not in the repository,
the query plan's text or the Dagster metadata. A run writing off the local disk refuses the development salt
(Settings.for_run): with it, anyone holding the repository could rebuild every hash from a list of emails.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import DEV_PII_SALT, Settings
from lakehouse.engine.sql import load_sql, sql_with_args

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaltedSql:
    """A TableSpec transform: sql/<path> with :start_dt, :end_dt and :pii_salt bound."""

    path: str  # relative to the sql dir, e.g. "silver/customers.sql"

    def __call__(self, session: SparkSession, views: dict, start: str, end: str, settings: Settings) -> DataFrame:
        settings = settings.for_run()
        if settings.pii_salt == DEV_PII_SALT:
            log.warning("%s: hashing personal data with the development PII salt; set LAKEHOUSE_PII_SALT in "
                        "production", self.path)
        text = load_sql(self.path, settings).strip().rstrip(";")
        return sql_with_args(session, text, {"start_dt": start, "end_dt": end, "pii_salt": settings.pii_salt})
