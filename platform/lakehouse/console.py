"""What every command prints through: the console, and errors and values made safe to show on it."""
from __future__ import annotations

from rich.console import Console

console = Console(width=max(120, Console().width))


def plain(text: str):
    """Text for the console that is never read as markup or :emoji: and shows control characters as escapes."""
    from lakehouse.query.output import cell

    return cell(text)


def error_line(exc: BaseException) -> str:
    """The error as one line of plain text: no configured secret, no terminal control characters."""
    from lakehouse.config import secrets_in_env
    from lakehouse.query.output import printable
    from lakehouse.secrets import scrub

    text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
    dsn, others = secrets_in_env()
    text = scrub(text, dsn=dsn, plain=others)
    return printable(" ".join(text.split()))
