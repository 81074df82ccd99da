"""Python transforms of the startups domain, for what a plain SQL model cannot do on its own."""
from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import DEV_PII_SALT, Settings
from lakehouse.engine.sql import load_sql

CONTACTS_SQL = "silver/apollo_contacts.sql"
log = logging.getLogger(__name__)


def apollo_contacts(session: SparkSession, views: dict, start: str, end: str) -> DataFrame:
    """Run sql/silver/apollo_contacts.sql with the PII salt bound as the :pii_salt parameter.

    The salt comes from the settings (LAKEHOUSE_PII_SALT), never from the SQL text, so it is not in the
    repository, the query plan's text or the Dagster metadata; it is a bound parameter of the query.
    """
    settings = Settings.from_env()
    if settings.pii_salt == DEV_PII_SALT:
        log.warning("silver.apollo_contacts: hashing emails with the development PII salt; "
                    "set LAKEHOUSE_PII_SALT in production")
    text = load_sql(CONTACTS_SQL, settings).strip().rstrip(";")
    return session.sql(text, args={"start_dt": start, "end_dt": end, "pii_salt": settings.pii_salt})
