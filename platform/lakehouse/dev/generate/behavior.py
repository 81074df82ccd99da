"""Deterministic, deliberately dirty customer behaviour, loaded into a Redshift-style table.

`seed_database(dsn, start, days, rows, seed)` drops and re-creates `analytics.customer_behavior` (customer_id,
day, sessions, page_views, cart_adds, minutes_on_site, updated_at) in the database of the DSN -- PostgreSQL
here, with the column types a Redshift table would have -- and fills `rows` rows a day for `days` days from
`start`. Same arguments -> the same rows. Customer ids are the shop's (`C000001`...; lakehouse.dev.generate.commerce),
so gold.customer_analytics can join them. Like a warehouse table loaded by a nightly job, nothing is unique.

Dirt: each day's first rows carry one defect each (every defect every day when rows >= 8): a NULL customer
id, an id in other casing and whitespace (conformed by silver, not a defect), a NULL count, a negative count,
fewer page views than sessions, more minutes than a day has, a re-sent row (same customer and day, a later
updated_at, other numbers: the later one wins), and a row with a NULL day (never in a day's export).
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

TABLE = "analytics.customer_behavior"
DDL = ("customer_id varchar(32), day date, sessions integer, page_views integer, cart_adds integer, "
       "minutes_on_site numeric(10,2), updated_at timestamptz")
COLUMNS = ("customer_id", "day", "sessions", "page_views", "cart_adds", "minutes_on_site", "updated_at")
DEFECTS = ("null_customer", "messy_id", "null_count", "negative_count", "views_below_sessions",
           "too_many_minutes", "resent", "null_day")


def _customer(i: int) -> str:
    return f"C{i:06d}"


def generate(start: date, days: int, rows: int, seed: int) -> list[tuple]:
    """Every row, in COLUMNS order (pure: no database)."""
    if days < 0 or rows < 0:
        raise ValueError("days and rows must not be negative")
    out: list[tuple] = []
    for d in range(days):
        day = start + timedelta(days=d)
        rng = random.Random(f"{seed}-{day}")
        loaded = datetime.combine(day + timedelta(days=1), time(1), tzinfo=timezone.utc)  # the nightly load
        customers = rng.sample(range(1, max(rows * 2, 40) + 1), rows)
        for i, number in enumerate(customers):
            sessions = rng.randint(1, 6)
            row = [_customer(number), day, sessions, sessions + rng.randint(0, 25), rng.randint(0, 4),
                   Decimal(rng.randint(30, 9000)) / 100, loaded + timedelta(seconds=i)]
            defect = DEFECTS[i] if i < len(DEFECTS) else None
            if defect == "null_customer":
                row[0] = None
            elif defect == "messy_id":
                row[0] = f"  {row[0].lower()} "
            elif defect == "null_count":
                row[3] = None
            elif defect == "negative_count":
                row[4] = -1
            elif defect == "views_below_sessions":
                row[3] = row[2] - 1
            elif defect == "too_many_minutes":
                row[5] = Decimal("1500.00")
            elif defect == "null_day":
                row[1] = None
            out.append(tuple(row))
            if defect == "resent":  # the load ran again later that night with corrected numbers
                out.append(tuple(row[:2]) + (row[2] + 1, row[3] + 1, row[4], row[5], row[6] + timedelta(hours=1)))
    return out


def seed_database(dsn: str, start: date, days: int, rows: int, seed: int) -> int:
    """Drop, re-create and fill analytics.customer_behavior in the database of `dsn`; returns the row count."""
    import psycopg

    data = generate(start, days, rows, seed)
    with psycopg.connect(dsn) as conn:
        conn.execute("create schema if not exists analytics")
        conn.execute(f"drop table if exists {TABLE}")
        conn.execute(f"create table {TABLE} ({DDL})")
        with conn.cursor().copy(f"copy {TABLE} ({', '.join(COLUMNS)}) from stdin") as copy:
            for row in data:
                copy.write_row(row)
        conn.execute(f"analyze {TABLE}")
    return len(data)


def seed_behavior(settings, start: date, days: int, rows: int, seed: int) -> int:
    """`lakehouse land --domain behavior`: seed the database of LAKEHOUSE_REDSHIFT_DSN; returns the row count."""
    dsn = settings.database("redshift").dsn
    if not dsn:
        raise ValueError("set LAKEHOUSE_REDSHIFT_DSN to the PostgreSQL (or Redshift) database to seed")
    return seed_database(dsn, start, days, rows, seed)
