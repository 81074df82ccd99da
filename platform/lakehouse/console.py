"""What every command prints through: the console, and errors and values made safe to show on it."""
from __future__ import annotations

import re

from rich.console import Console

console = Console(width=max(120, Console().width))
# C0 and C1 controls (but tab and newline, which a cell may hold), DEL, and the Unicode marks that reorder or
# hide text on screen (bidirectional overrides and isolates, zero-width characters)
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def printable(text: str) -> str:
    """`text` with every control character written as a visible escape (ESC becomes \\x1b)."""
    return _UNPRINTABLE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def cell(value):
    """One value as a table cell: rich Text, which is never parsed for markup or :emoji: codes, with controls
    visible."""
    from rich.text import Text

    return Text(printable("" if value is None else str(value)))


def plain(text: str):
    """Text for the console that is never read as markup or :emoji: and shows control characters as escapes."""
    return cell(text)


def error_line(exc: BaseException) -> str:
    """The error as one line of plain text: no configured secret, no terminal control characters."""
    from lakehouse.config import secrets_in_env
    from lakehouse.secrets import scrub

    text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
    dsn, others = secrets_in_env()
    text = scrub(text, dsn=dsn, plain=others)
    return printable(" ".join(text.split()))
