"""Who may read what: scopes a reader holds, and what each table shows them.

The policy is driven by the registry: a table's layer says whether it is raw data, and its spec's `pii`
columns say what is personal. Every reader has `read`; the others are granted on top of it:

- `read`: silver and gold tables, with every PII column masked (`***`, NULL stays NULL);
- `pii`: PII columns as stored (in silver and gold these are pseudonymized: salted hashes, masked forms);
- `raw`: bronze and quarantine tables (rows as received, and rows set aside with their whole record).

The query layer applies it for every engine and caller (the CLI's --scope, a service's own mapping of users to
scopes). On AWS the same rules are Lake Formation grants: see docs/security.md.
"""
from __future__ import annotations

from typing import Iterable

from lakehouse.errors import LakehouseError
from lakehouse.query.tables import QUARANTINE, QueryTable

SCOPES = ("read", "pii", "raw")
DEFAULT_SCOPES = frozenset({"read"})
RAW_LAYERS = ("bronze", QUARANTINE)
MASK = "***"


class AccessDeniedError(LakehouseError):
    """The reader's scopes do not cover a table the query names."""

    def __init__(self, message: str, scope: str | None = None):
        super().__init__(message)
        self.scope = scope  # the scope the reader lacks, when one would cover the table


def scopes_of(granted: Iterable[str] | None) -> frozenset[str]:
    """The scopes a reader holds: `read` plus those granted; an unknown name is refused, not ignored."""
    names = {s.strip().lower() for s in (granted or ()) if s and s.strip()}
    unknown = sorted(names - set(SCOPES))
    if unknown:
        raise AccessDeniedError(f"unknown scope {', '.join(map(repr, unknown))}; scopes are {', '.join(SCOPES)}")
    return DEFAULT_SCOPES | names


def check_access(table: QueryTable, scopes: frozenset[str]) -> None:
    if table.layer in RAW_LAYERS and "raw" not in scopes:
        kind = "rows set aside with their whole record" if table.is_quarantine else "rows as received"
        raise AccessDeniedError(f"refused: {table.id} holds raw data ({kind}); reading bronze and quarantine "
                                "tables needs the raw scope (--scope raw)", scope="raw")


def masked_columns(table: QueryTable, scopes: frozenset[str]) -> tuple[str, ...]:
    """The columns of `table` this reader sees as *** (none with the pii scope)."""
    return () if "pii" in scopes else table.pii
