"""Python transforms of the startups domain, for what a plain SQL model cannot do on its own."""
from __future__ import annotations

from lakehouse.domains.pii import SaltedSql

CONTACTS_SQL = "silver/apollo_contacts.sql"
# email hashed with the salt, email and phone masked (lakehouse.domains.pii)
apollo_contacts = SaltedSql(CONTACTS_SQL)
