"""Deterministic, deliberately dirty billing data, seeded into a PostgreSQL database.

`seed_billing(settings, start, days, rows, seed)` (the `lakehouse land --domain billing` entry point) and
`seed_database(dsn, start, days, rows, seed)` drop and re-create the tables users, subscriptions, invoices
and transactions in the database of the DSN (settings.database("billing").dsn, LAKEHOUSE_BILLING_DSN) and fill them for
`days` days from `start`. Same arguments -> the same rows. The tables have no unique constraint on `id`,
like a legacy schema or an append-only replica, so the export and silver must cope with re-sent ids.

Volumes for `rows` = R a day: R invoices, about R transactions (payments for paid invoices, ~10% refunds),
R/4 new users and R/4 subscriptions (80% monthly, 20% yearly; yearly prices are whole multiples of 12
cents, so their monthly share is exact to the cent).

Dirt: every day's first rows each carry one defect (so every defect occurs every day when R >= 12), then a
few more at random: NULL ids and required fields, negative amounts, unknown statuses and kinds, statuses
in other casing/whitespace or aliases ('Cancelled', ' PAID ', 'success', 'YEARLY'), a non-USD currency,
a canceled subscription without canceled_at, re-sent ids (a second row with the same id, a newer
updated_at and a different amount), a NULL created_at (never in an incremental export), rows exactly at
midnight and one microsecond before it, and late updates (a user or invoice changed days after creation).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from lakehouse.config import Settings

MONTHLY_PRICES = (Decimal("9.99"), Decimal("19.00"), Decimal("49.50"))
YEARLY_PRICES = (Decimal("120.00"), Decimal("288.00"), Decimal("996.00"))
COUNTRIES = ("US", "DE", "GB", "FR", "CA", "BR", " us ", "")

DDL = {
    "users": "id bigint, email text, full_name text, country text, created_at timestamptz, updated_at timestamptz",
    "subscriptions": "id bigint, user_id bigint, plan text, billing_interval text, amount numeric(12,2), "
                     "currency text, status text, started_at timestamptz, canceled_at timestamptz, "
                     "created_at timestamptz, updated_at timestamptz",
    "invoices": "id bigint, user_id bigint, subscription_id bigint, amount numeric(12,2), currency text, "
                "status text, created_at timestamptz, updated_at timestamptz",
    "transactions": "id bigint, invoice_id bigint, user_id bigint, kind text, amount numeric(12,2), "
                    "currency text, status text, created_at timestamptz, updated_at timestamptz",
}
TABLES = tuple(DDL)


@dataclass
class SeedSummary:
    rows: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(self.rows.values())


def _at(day: date, rng: random.Random) -> datetime:
    base = datetime.combine(day, time(0), tzinfo=timezone.utc)
    return base + timedelta(seconds=rng.randint(0, 86_399), microseconds=rng.randint(0, 999_999))


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _dirt(i: int, kinds: tuple[str, ...], rng: random.Random) -> str | None:
    """The defect of row i of a day: the first rows one kind each, then about 3% at random."""
    if i < len(kinds):
        return kinds[i]
    return rng.choice(kinds) if rng.random() < 0.03 else None


def generate(start: date, days: int, rows: int, seed: int) -> dict[str, list[tuple]]:
    """Every row of every table, in column order of DDL (pure: no database)."""
    if days < 0 or rows < 0:
        raise ValueError("days and rows must not be negative")
    out: dict[str, list[tuple]] = {t: [] for t in TABLES}
    next_id = {t: 1 for t in TABLES}
    users_so_far: list[int] = []

    def new_id(table: str) -> int:
        next_id[table] += 1
        return next_id[table] - 1

    for offset in range(days):
        day = start + timedelta(days=offset)
        rng = random.Random(f"billing:{seed}:{day.isoformat()}")
        midnight = datetime.combine(day, time(0), tzinfo=timezone.utc)
        last_instant = midnight + timedelta(days=1) - timedelta(microseconds=1)

        # users: new signups, some changed later (their change lands in a later day's change feed)
        for i in range(max(rows // 4, 1)):
            uid, created = new_id("users"), _at(day, rng)
            dirt = _dirt(i, ("null_email", "messy_email", "resent", "late_update", "null_created"), rng)
            email = f"user{uid}@example.com"
            updated = created
            if dirt == "null_email":
                email = None
            elif dirt == "messy_email":
                email = f"  USER{uid}@Example.COM "
            elif dirt == "late_update":
                updated = created + timedelta(days=1, hours=2)
            row = [uid, email, f"User {uid}", rng.choice(COUNTRIES), created, updated]
            if dirt == "null_created":
                row[4], row[5] = None, None
            out["users"].append(tuple(row))
            if dirt == "resent":  # the same id again, changed an hour later
                out["users"].append((uid, f"user{uid}+new@example.com", f"User {uid}", "US", created,
                                     created + timedelta(hours=1) if created.hour < 22 else created))
            users_so_far.append(uid)

        # subscriptions: one per new user or so
        sub_kinds = ("unknown_status", "alias_status", "negative_amount", "eur", "null_user",
                     "canceled_no_date", "resent", "alias_interval", "unknown_interval", "midnight")
        for i in range(max(rows // 4, 1)):
            sid, created = new_id("subscriptions"), _at(day, rng)
            dirt = _dirt(i, sub_kinds, rng)
            yearly = rng.random() < 0.2
            interval = "year" if yearly else "month"
            amount = rng.choice(YEARLY_PRICES if yearly else MONTHLY_PRICES)
            status = _pick(rng, (("trialing", 10), ("active", 70), ("past_due", 5), ("canceled", 15)))
            started = created
            canceled = None
            if status == "canceled":
                # canceled some hours or days after it started: later days still count it as active until then
                canceled = started + timedelta(hours=rng.randint(1, 60))
            user = rng.choice(users_so_far)
            currency = "USD"
            if dirt == "unknown_status":
                status = "paused_by_support"
            elif dirt == "alias_status":
                status, canceled = "Cancelled", started + timedelta(hours=3)
            elif dirt == "negative_amount":
                amount = -amount
            elif dirt == "eur":
                currency = "EUR"
            elif dirt == "null_user":
                user = None
            elif dirt == "canceled_no_date":
                status, canceled = "canceled", None
            elif dirt == "alias_interval":
                interval = " YEARLY " if yearly else "Monthly"
            elif dirt == "unknown_interval":
                interval = "weekly"
            elif dirt == "midnight":
                created = started = midnight
            row = (sid, user, rng.choice(("starter", "pro", "team")), interval, amount, currency, status,
                   started, canceled, created, created)
            out["subscriptions"].append(row)
            if dirt == "resent":  # re-sent with a newer updated_at and a new price: the newer one wins
                out["subscriptions"].append(row[:4] + (amount + Decimal("1.00"),) + row[5:10]
                                            + (created + timedelta(minutes=5),))

        # invoices and their transactions
        inv_kinds = ("negative_amount", "unknown_status", "messy_status", "eur", "null_user", "resent",
                     "null_created", "midnight", "last_instant", "late_update", "null_amount")
        trx_kinds = ("negative_amount", "unknown_kind", "alias_status", "unknown_status", "eur", "null_user",
                     "resent", "null_id")
        n_trx = 0
        for i in range(rows):
            iid, created = new_id("invoices"), _at(day, rng)
            dirt = _dirt(i, inv_kinds, rng)
            amount = Decimal(rng.randint(500, 50_000)) / 100
            status = _pick(rng, (("paid", 60), ("open", 20), ("draft", 5), ("void", 5), ("uncollectible", 10)))
            user, currency, updated = rng.choice(users_so_far), "USD", created
            if dirt == "negative_amount":
                amount = -amount
            elif dirt == "unknown_status":
                status = "disputed??"
            elif dirt == "messy_status":
                status = f"  {status.upper()} "
            elif dirt == "eur":
                currency = "eur"
            elif dirt == "null_user":
                user = None
            elif dirt == "midnight":
                created = updated = midnight
            elif dirt == "last_instant":
                created = updated = last_instant
            elif dirt == "late_update":
                updated = created + timedelta(days=2)
            elif dirt == "null_amount":
                amount = None
            row = (iid, user, None, amount, currency, status, None if dirt == "null_created" else created, updated)
            out["invoices"].append(row)
            if dirt == "resent":
                out["invoices"].append(row[:3] + (amount + Decimal("10.00"), currency, "paid", created,
                                                  created + timedelta(seconds=30)))
            # a payment attempt for most invoices that are not drafts, ~10% refunded later the same day
            if status.strip().lower() in ("paid", "open", "uncollectible") or rng.random() < 0.3:
                tdirt = _dirt(n_trx, trx_kinds, rng)
                n_trx += 1
                tid = new_id("transactions")
                t_at = min(created + timedelta(minutes=rng.randint(1, 90)), last_instant) if created else _at(day, rng)
                kind, t_status = "payment", "succeeded" if status.strip().lower() == "paid" else \
                    _pick(rng, (("failed", 50), ("pending", 30), ("succeeded", 20)))
                t_amount, t_currency, t_user = abs(amount) if amount is not None else Decimal("1.00"), "USD", user
                if tdirt == "negative_amount":
                    t_amount = -t_amount
                elif tdirt == "unknown_kind":
                    kind = "chargeback"
                elif tdirt == "alias_status":
                    t_status = "Success"
                elif tdirt == "unknown_status":
                    t_status = "mystery"
                elif tdirt == "eur":
                    t_currency = "EUR"
                elif tdirt == "null_user":
                    t_user = None
                trow = (None if tdirt == "null_id" else tid, iid, t_user, kind, t_amount, t_currency, t_status,
                        t_at, t_at)
                out["transactions"].append(trow)
                if tdirt == "resent":
                    out["transactions"].append(trow[:4] + (t_amount + Decimal("0.50"),) + trow[5:8]
                                               + (t_at + timedelta(seconds=1),))
                if t_status == "succeeded" and rng.random() < 0.1:
                    r_at = min(t_at + timedelta(minutes=30), last_instant)
                    refund = (abs(t_amount) / 2).quantize(Decimal("0.01"))
                    out["transactions"].append((new_id("transactions"), iid, trow[2], "refund", refund, "USD",
                                                "succeeded", r_at, r_at))
    return out


def seed_database(dsn: str, start: date, days: int, rows: int, seed: int) -> SeedSummary:
    """Drop, re-create and fill the billing tables in the database of `dsn`."""
    import psycopg
    from psycopg import sql

    data = generate(start, days, rows, seed)
    summary = SeedSummary()
    with psycopg.connect(dsn) as conn:
        for table, columns in DDL.items():
            name = sql.Identifier(table)
            conn.execute(sql.SQL("drop table if exists {}").format(name))
            conn.execute(sql.SQL("create table {} (" + columns + ")").format(name))
            cols = [c.split()[0] for c in columns.split(", ")]
            with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(
                    name, sql.SQL(", ").join(map(sql.Identifier, cols)))) as copy:
                for row in data[table]:
                    copy.write_row(row)
            conn.execute(sql.SQL("create index on {} (created_at)").format(name))
            summary.rows[table] = len(data[table])
        conn.execute("analyze")
    return summary


def seed_billing(settings: Settings, start: date, days: int, rows: int, seed: int) -> SeedSummary:
    """`lakehouse land --domain billing`: seed the database of LAKEHOUSE_BILLING_DSN."""
    dsn = settings.database("billing").dsn
    if not dsn:
        raise ValueError("set LAKEHOUSE_BILLING_DSN to the PostgreSQL database to seed")
    return seed_database(dsn, start, days, rows, seed)
