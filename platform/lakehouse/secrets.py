"""Secrets held by the settings (a DSN's password, the PII salt): masked in every text a person or a log sees.

A DSN is masked by its shape, not by asking a parser for the password: libpq reads `svc:p@ss@host` as the
password `p` and the host `ss@host`, so masking what the parser found would print half of the real password.
Everything between the user name and the LAST `@` of the authority is the password, however it is spelled.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Mapping
from urllib.parse import unquote

MASK = "***"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# an unquoted value runs to the next `key=` (libpq would fail on `password=Sup3r S3cret`, but mask all of it)
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|.*?(?=\s+\w+\s*=|\s*$))",
                               re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
_KEYWORD_FORM = re.compile(r"^\s*\w+\s*=")
POSTGRES_SCHEMES = ("postgresql", "postgres")
DSN_FORMS = "postgresql://user:password@host:5432/dbname, or key=value pairs (host=... dbname=... user=...)"


def settings_digest(settings: Mapping[str, str]) -> str:
    """A digest of settings that may hold keys (S3A's, delta-rs' storage options): tells whether they changed
    without keeping a key in memory beside the thing they made."""
    return hashlib.sha256(json.dumps(sorted(settings.items())).encode()).hexdigest()


class DsnError(ValueError):
    """A DSN that cannot be used; the message never holds the password."""


def _authority_end(rest: str) -> int:
    """Where the authority of `user:password@host/db` ends: the first / ? # after the last @."""
    at = rest.rfind("@")
    tail = re.search(r"[/?#]", rest[at + 1:])
    return at + 1 + tail.start() if tail else len(rest)


def _split_url(dsn: str) -> tuple[str, str, str, str] | None:
    """(prefix up to //, user info, host part, rest) of a URL-shaped DSN, or None."""
    match = _SCHEME.match(dsn)
    prefix = match.group(0) if match else ""
    rest = dsn[len(prefix):]
    if "@" not in rest:
        return None
    end = _authority_end(rest)
    authority = rest[:end]
    at = authority.rfind("@")
    return prefix, authority[:at], authority[at + 1:], rest[end:]


def mask_dsn(dsn: str | None) -> str | None:
    """The DSN with its password replaced by ***: user, host, port and database stay readable."""
    if not dsn:
        return dsn
    if _KEYWORD_FORM.match(dsn):
        return _KEYWORD_PASSWORD.sub(rf"\g<1>{MASK}", dsn)
    parts = _split_url(dsn)
    if parts is None:
        return _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", dsn)
    prefix, userinfo, host, rest = parts
    user, has_password, _ = userinfo.partition(":")
    shown = f"{user}:{MASK}" if has_password else user
    return _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", f"{prefix}{shown}@{host}{rest}")


def dsn_passwords(dsn: str | None) -> list[str]:
    """Every spelling of the password a message might quote: as written, percent-decoded, and the pieces a
    parser would split an unencoded @ into."""
    if not dsn:
        return []
    found: list[str] = []
    if _KEYWORD_FORM.match(dsn):
        found += [m.group(2).strip("'") for m in _KEYWORD_PASSWORD.finditer(dsn)]
    else:
        parts = _split_url(dsn)
        if parts is not None and ":" in parts[1]:
            password = parts[1].split(":", 1)[1]
            found += [password, *password.split("@")]
        found += [m.group(0).split("=", 1)[1] for m in _QUERY_PASSWORD.finditer(dsn)]
    found += [unquote(p) for p in found]
    # longest first, so a piece never leaves the rest of a longer spelling behind; 1-2 characters would
    # mask every such letter of a message and cannot be told apart from the text around them anyway
    return sorted({p for p in found if len(p) >= 3}, key=len, reverse=True)


def scrub(text: str, *, dsn: str | None = None, plain: tuple[str | None, ...] = ()) -> str:
    """`text` with every spelling of the DSN's password, and each plain secret (a salt), replaced by ***."""
    spellings = dsn_passwords(dsn) + [s for s in plain if s and len(s) >= 4]  # shorter: see dsn_passwords
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling, MASK)
    text = _KEYWORD_PASSWORD.sub(rf"\g<1>{MASK}", text)
    return re.sub(r"(://[^:/@\s]*:)([^\s]*)(@)", rf"\g<1>{MASK}\g<3>", text)


def check_dsn(dsn: str) -> dict[str, str]:
    """The connection parameters of a PostgreSQL DSN, or DsnError saying what is wrong (password masked)."""
    shown = mask_dsn(dsn)
    scheme = _SCHEME.match(dsn)
    if scheme is None and not _KEYWORD_FORM.match(dsn):
        raise DsnError(f"{shown!r} is neither a postgresql:// URL nor key=value pairs; expected {DSN_FORMS}")
    if scheme is not None:
        if scheme.group(1).lower() not in POSTGRES_SCHEMES:
            raise DsnError(f"{shown!r} has the scheme {scheme.group(1)!r}; expected {DSN_FORMS}")
        parts = _split_url(dsn)
        if parts is not None:
            userinfo = parts[1]
            if "@" in userinfo:
                raise DsnError(f"{shown!r}: the password holds an unencoded '@'; percent-encode it as %40")
            if any(c.isspace() for c in dsn):
                raise DsnError(f"{shown!r}: a URL cannot hold spaces; percent-encode them as %20")
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - psycopg's message quotes the DSN; say what to do instead
        raise DsnError(f"{shown!r} does not parse as a PostgreSQL connection string; expected {DSN_FORMS}") from None
