"""`lakehouse keys add|list|revoke` and `lakehouse serve`: the query service's keys and the service itself."""
from __future__ import annotations

import sys

from lakehouse.query.scopes import SCOPES


def _store(args):
    from lakehouse.service.keys import KeyStore

    return KeyStore(args.settings.serve_keys_file)


def cmd_keys_add(args) -> int:
    store = _store(args)
    entry, key = store.add(args.name, args.scope, args.rate)
    sys.stdout.write(key + "\n")  # alone on stdout, so KEY=$(lakehouse keys add NAME) works
    sys.stderr.write(f"key {entry.name!r} (id {entry.id}, scopes {', '.join(entry.scopes)}) added to "
                     f"{store.path}; this is the only time it is shown: the file keeps its hash\n")
    return 0


def cmd_keys_list(args) -> int:
    from rich.table import Table

    from lakehouse.console import console, plain

    table = Table(title="API keys")
    for column in ("name", "id", "scopes", "rate/min", "created"):
        table.add_column(column)
    for key in _store(args).keys():
        table.add_row(plain(key.name), key.id, ", ".join(("read", *(s for s in key.scopes if s != "read"))),
                      str(key.rate_per_minute or "default"), key.created)
    console.print(table)
    return 0


def cmd_keys_revoke(args) -> int:
    from lakehouse.errors import LakehouseError

    if not _store(args).revoke(args.name):
        raise LakehouseError(f"no key named {args.name!r} (lakehouse keys list shows them)")
    sys.stderr.write(f"key {args.name!r} revoked; a running service refuses it from its next request\n")
    return 0


def cmd_serve(args) -> int:
    from lakehouse.service import serve

    serve(args.settings, port=args.port)
    return 0


def _port(text: str) -> int:
    import argparse

    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1 to 65535)")
    return int(text)


def add_commands(sub) -> None:
    keys = sub.add_parser("keys", help="API keys of the query service (lakehouse serve)")
    actions = keys.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create a key with scopes; it is printed once, only its hash is kept")
    add.add_argument("name", help="who holds it, e.g. analytics-dashboard or ann@example.com")
    add.add_argument("--scope", action="append", choices=SCOPES, default=[],
                     help="read (always), pii (PII columns unmasked), raw (bronze and quarantine); repeatable")
    add.add_argument("--rate", type=int, help="requests a minute for this key (default LAKEHOUSE_SERVE_RATE)")
    add.set_defaults(func=cmd_keys_add)
    actions.add_parser("list", help="names, ids, scopes and rates (never a key)").set_defaults(func=cmd_keys_list)
    revoke = actions.add_parser("revoke", help="remove a key; a running service refuses it at once")
    revoke.add_argument("name")
    revoke.set_defaults(func=cmd_keys_revoke)

    serve = sub.add_parser("serve", help="the query service on 127.0.0.1 (port LAKEHOUSE_SERVE_PORT, 8080)")
    serve.add_argument("--port", type=_port, help="default LAKEHOUSE_SERVE_PORT or 8080")
    serve.set_defaults(func=cmd_serve)
