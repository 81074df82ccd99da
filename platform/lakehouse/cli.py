"""`lakehouse` command: land sample data, materialize days, run the demo, look at tables."""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta

from rich.table import Table

from lakehouse.config import DEFAULT_START_DAYS_BACK, Settings, utc_today
from lakehouse.console import console, error_line, plain
from lakehouse.errors import LakehouseError


def _day(text: str) -> str:
    """An argparse type: a day as YYYY-MM-DD, or `today` / `yesterday` (UTC, as the partitions count days)."""
    named = {"today": 0, "yesterday": 1}.get(text.strip().lower())
    if named is not None:
        return (utc_today() - timedelta(days=named)).isoformat()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD, today or yesterday)") from None


def _end(start: str, days: int) -> str:
    return (date.fromisoformat(start) + timedelta(days=days - 1)).isoformat()


def _recent_start(args) -> str:
    """`--start` when given, else the first of the `--days` days up to yesterday (the last complete UTC day)."""
    return args.start or (utc_today() - timedelta(days=args.days)).isoformat()


def _check_partitions(settings, start: str, end: str) -> None:
    """Days outside the tables' partitions cannot be materialized: say which setting decides, in one line."""
    if start < settings.start_date:
        raise LakehouseError(f"{start} is before the first partition, {settings.start_date} (LAKEHOUSE_START_DATE; "
                             f"unset, it is {DEFAULT_START_DAYS_BACK} days before today): set "
                             f"LAKEHOUSE_START_DATE={start} or choose later days")
    if end > utc_today().isoformat():
        raise LakehouseError(f"{end} is after today (UTC), the newest partition")


def _seed(settings, args, start: str):
    """Run the domain's generator; a database-fed domain's connection errors become one line without the DSN."""
    from lakehouse.dev.generate import DATABASE_OF, DOMAINS

    try:
        return DOMAINS[args.domain](settings, date.fromisoformat(start), args.days, args.rows, args.seed)
    except Exception as exc:
        if type(exc).__module__.split(".")[0] != "psycopg":
            raise
        from lakehouse.ingest.postgres import SourceError, describe_dsn

        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        dsn = settings.database(DATABASE_OF[args.domain]).dsn
        raise SourceError(f"cannot seed {args.domain} into {describe_dsn(dsn)}: {reason}") from None


def cmd_land(args) -> int:
    from lakehouse.dev.generate import DOMAINS
    from lakehouse.pipeline.registry import landing_domains

    if args.domain not in DOMAINS:
        raise LakehouseError(f"unknown domain {args.domain!r}; domains are {', '.join(sorted(DOMAINS))}")
    settings = args.settings
    start = _recent_start(args)
    written = _seed(settings, args, start)
    if args.domain in landing_domains():
        console.print(f"landed {len(written)} files for {args.domain}, {start}..{_end(start, args.days)}, "
                      f"under {settings.landing}")
        if start < settings.start_date:  # the sensor reports and skips files of days without a partition
            console.print(plain(f"note: days before {settings.start_date}, the first partition, are not processed; "
                                f"set LAKEHOUSE_START_DATE={start} to include them"))
    else:  # a domain fed by a database: its generator seeds that database
        rows = written if isinstance(written, int) else len(written)
        console.print(f"seeded {rows} rows for {args.domain} into its source database")
    return 0


def _landed_domains(settings, start: str, end: str) -> list[str]:
    """Landing-fed domains with at least one file landed for a day of start..end."""
    from lakehouse.ingest.landing import LandingZone
    from lakehouse.pipeline.registry import landed_specs

    domain_of = {s.landing.prefix: s.domain for s in landed_specs()}
    landed = {domain_of.get(f"{f.source}/{f.entity}") for f in LandingZone(settings).files() if start <= f.dt <= end}
    return sorted(d for d in landed if d)


def _materialize(settings, start: str, end: str, domains: list[str], log_level: str = "INFO"):
    """One daily run (plus a monthly one) per domain, all in this process: one SparkSession for all."""
    from lakehouse.definitions import defs
    from lakehouse.runs import RangeRun, instance_for_runs, materialize_range

    run, instance = RangeRun(), instance_for_runs(settings)
    for domain in domains:
        run.results += materialize_range(defs, start, end, instance, domain=domain, log_level=log_level).results
    for line in run.failures():
        console.print("[red]failed[/red]", plain(line))  # a failure may quote data: never markup
    return run


def cmd_materialize(args) -> int:
    settings = args.settings.for_run()
    end = args.end or args.start
    _check_partitions(settings, args.start, end)
    domains = args.domain or _landed_domains(args.settings, args.start, end)
    if not domains:
        console.print("[red]error:[/red]", plain(f"nothing has landed for {args.start}..{end}; land files first "
                                                 "(e.g. lakehouse land) or name a domain with --domain"))
        return 2
    console.print(plain(f"materializing {', '.join(domains)} for {args.start}..{end}"))
    run = _materialize(args.settings, args.start, end, domains)
    console.print("[green]success[/green]" if run.success else "[red]some steps failed[/red]")
    return 0 if run.success else 1


def cmd_demo(args) -> int:
    from lakehouse.pipeline.registry import landing_domains

    settings = args.settings.for_run()
    start = _recent_start(args)
    end = _end(start, args.days)
    _check_partitions(settings, start, end)
    began = time.perf_counter()
    console.rule("lakehouse demo")
    console.print(f"warehouse: {settings.warehouse}\nlanding:   {settings.landing}")
    domains = landing_domains()
    for domain in domains:  # --rows is orders per day; a startups day is companies per provider, fewer
        rows = max(args.rows // 10, 10) if domain == "startups" else args.rows
        cmd_land(argparse.Namespace(domain=domain, start=start, days=args.days, rows=rows, seed=args.seed,
                                    settings=args.settings))
    console.print(f"materializing every table of {', '.join(domains)} for {start}..{end} "
                  "(one run per domain and partitioning, one SparkSession)")
    run = _materialize(args.settings, start, end, domains)
    _print_summary(start, end, run.check_results(), domains)
    console.print(f"\ndone in {time.perf_counter() - began:.1f}s; data lives under {settings.home}")
    console.print("open the UI with [bold]make dev[/bold] (http://127.0.0.1:3000); look around with "
                  "[bold].venv/bin/lakehouse tables[/bold], [bold]describe gold.daily_sales_summary[/bold] or "
                  "[bold]query \"SELECT * FROM gold.daily_sales_summary LIMIT 5\"[/bold]")
    return 0 if run.success else 1


def _print_summary(start: str | None, end: str | None, checks: dict[str, dict[str, bool]] | None = None,
                   domains: list[str] | None = None) -> None:
    from lakehouse.ingest.landing import LandingZone
    from lakehouse.pipeline.registry import all_specs, landing_sources
    from lakehouse.resources import LakehouseResource
    from lakehouse.summary import expected_range, table_status

    lakehouse = LakehouseResource()
    settings = lakehouse.settings()
    first, last = expected_range(settings.start_date, start, end)
    landed = LandingZone(settings).landed_days()  # one listing: which missing days are only waiting for files
    table = Table(title=f"tables {first}..{last}")
    for col in ("table", "format", "partitions", "rows", "quarantined", "missing", "checks"):
        table.add_column(col, justify="right" if col in ("partitions", "rows", "quarantined") else "left")
    missing_total = idle_total = 0
    for spec in all_specs():
        if domains is not None and spec.domain not in domains:
            continue
        status = table_status(lakehouse, spec, start, end, landed)
        results = (checks or {}).get(spec.id, {})
        failed = sorted(n for n, ok in results.items() if not ok)
        check_text = (f"[red]FAILED: {', '.join(failed)}[/red]" if failed
                      else f"{len(results)} passed" if results else "")
        built = status.missing - status.nothing_landed  # files landed (or a database feeds it), table lacks the day
        missing_text = "source off" if status.source_off else ", ".join(filter(None, [
            f"{status.nothing_landed} nothing landed" if status.nothing_landed else "",
            (f"[yellow]{built} not built[/yellow]" if landing_sources(spec.id) else f"{built}") if built else ""]))
        missing_total, idle_total = missing_total + status.missing, idle_total + status.nothing_landed
        table.add_row(status.table, status.format, str(status.partitions), f"{status.rows:,}",
                      f"{status.quarantined:,}", missing_text or "-", check_text or "-")
    console.print(table)
    if missing_total:
        gaps = "" if idle_total == missing_total else ("; the others are days with files the table was not built "
                                                        "for (lakehouse materialize --start DAY builds them)")
        console.print(plain(f"missing: partitions from {first} to {last} a table lacks; {idle_total} of {missing_total} "
                            f"are days nothing has landed for yet (waiting for files, not failures){gaps}"))


def _source_of(spec) -> str:
    return "landing" if spec.landing else "database" if spec.extract else "kafka" if spec.stream else "-"


def cmd_tables(args) -> int:
    from lakehouse.pipeline.registry import all_specs

    table = Table(title="table registry")
    for col in ("table", "domain", "partitioning", "upstreams", "rules", "contract", "pii"):
        table.add_column(col)
    for s in all_specs():
        table.add_row(s.id, s.domain, s.partitioning, ", ".join(u.table for u in s.upstreams) or _source_of(s),
                      str(len(s.rules)), f"{len(s.contract)} columns checked" if s.contract is not None else "-", ", ".join(s.pii) or "-")
    console.print(table)
    return 0


def _require_warehouse(settings) -> None:
    """A warehouse that is not there would read as zero rows everywhere: say so instead."""
    from lakehouse.storage.filesystem import filesystem_for

    fs, root = filesystem_for(settings.warehouse, settings)
    if fs.get_file_info(root).type.name != "Directory":
        raise LakehouseError(f"no warehouse at {settings.warehouse}: nothing is materialized there yet "
                             "(run lakehouse demo or materialize) or LAKEHOUSE_WAREHOUSE points at the wrong place")


def cmd_status(args) -> int:
    from lakehouse.query.warehouse import reading

    settings = args.settings
    with reading(settings):  # a warehouse that does not answer: one line naming it
        _require_warehouse(settings)
        _print_summary(args.start, args.end)
    return 0


def cmd_health(args) -> int:
    from lakehouse.automation.maintenance import health_report
    from lakehouse.query.warehouse import reading
    from lakehouse.resources import LakehouseResource

    settings = args.settings
    table = Table(title="partition health")
    for col in ("table", "first", "last", "present/expected", "missing", "delta version", "rows (recent days)"):
        table.add_column(col)
    with reading(settings):  # a warehouse that does not answer: one line naming it
        _require_warehouse(settings)
        for h in health_report(LakehouseResource()):
            table.add_row(h["table"], h["first"] or "-", h["last"] or "-", f"{h['present']}/{h['expected']}",
                          ", ".join(h["missing"][:5]) + (" ..." if len(h["missing"]) > 5 else "") or "-",
                          str(h["delta_version"] if h["delta_version"] is not None else "-"),
                          " ".join(str(v) for v in h["last_rows"].values()) or "-")
    console.print(table)
    return 0


def cmd_quality(args) -> int:
    from lakehouse.pipeline.registry import get_spec
    from lakehouse.quality.anomaly import BASELINE
    from lakehouse.quality.report import metric_histories, shown, sparkline

    spec, settings = get_spec(args.table), args.settings
    metrics = metric_histories(settings, spec, args.days, args.metric)
    if not metrics:
        console.print(plain(f"no metrics recorded for {spec.id} yet (ops.partition_metrics gets them as partitions "
                            "are published)"))
        return 0
    last = max(p.dt for m in metrics for p in m.points)
    table = Table(title=f"{spec.id}: the last {args.days} partitions up to {last} (ops.partition_metrics)",
                  caption=f"band: {BASELINE}; red: outside it")
    for col in ("metric", "check", "latest", "band", "history", "outliers"):  # latest: the metric's newest value
        table.add_column(col, justify="right" if col in ("latest", "band") else "left", no_wrap=col == "history")
    for m in metrics:
        latest = m.latest
        band = (f"{shown(spec, m.metric, latest.low)}..{shown(spec, m.metric, latest.high)}"
                if latest.low is not None else "(history too short)")
        outliers = ", ".join(p.dt for p in m.outliers[-3:]) + (" ..." if len(m.outliers) > 3 else "")
        table.add_row(plain(m.metric), m.level, plain(shown(spec, m.metric, latest.value)), plain(band),
                      sparkline(m.points), plain(outliers) or "-")
    console.print(table)
    return 0


def cmd_ingest_kafka(args) -> int:
    import json

    from lakehouse.engine.spark import get_spark
    from lakehouse.ingest.kafka import ingest
    from lakehouse.pipeline.registry import get_spec

    settings = args.settings.for_run()
    report = ingest(get_spark(settings), settings, get_spec(args.table), accept_gap=args.accept_retention_gap)
    print(json.dumps({"messages": report.messages, "batches": len(report.batches), "days": report.days,
                      "rows": sum(report.rows_by_day.values()),
                      "quarantined": sum(report.quarantined_by_day.values())}))  # the last line: for scripts
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lakehouse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    land = sub.add_parser("land", help="write deterministic, deliberately dirty sample files to the landing zone")
    land.add_argument("--domain", default="commerce")
    land.add_argument("--start", type=_day, help="first day (YYYY-MM-DD, today or yesterday); default: the --days "
                      "days up to yesterday (UTC)")
    land.add_argument("--days", type=int, default=7)
    land.add_argument("--rows", type=int, default=1000, help="rows per day of the main entity (orders for commerce, companies per provider for startups, invoices for billing); the others scale with it")
    land.add_argument("--seed", type=int, default=7)
    land.set_defaults(func=cmd_land)

    mat = sub.add_parser("materialize", help="materialize every table for a range of days, one run per domain")
    mat.add_argument("--start", type=_day, required=True, help="first day: YYYY-MM-DD, today or yesterday (UTC)")
    mat.add_argument("--end", type=_day, help="last day (default: --start)")
    mat.add_argument("--domain", action="append", help="only this domain (repeatable); default: every domain "
                     "with files landed in the range")
    mat.set_defaults(func=cmd_materialize)

    demo = sub.add_parser("demo", help="land sample data, materialize bronze -> gold, print a summary")
    demo.add_argument("--start", type=_day, help="first day; default: the --days days up to yesterday (UTC)")
    demo.add_argument("--days", type=int, default=7)
    demo.add_argument("--rows", type=int, default=1000, help="orders per day (startups get a tenth as many companies)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)

    kafka = sub.add_parser("ingest-kafka", help="ingest the Kafka topic into its bronze table, exactly once, up to "
                           "the topic's current end (what the kafka sensor's runs do)")
    kafka.add_argument("--table", default="bronze.events_kafka")
    kafka.add_argument("--accept-retention-gap", action="store_true",
                       help="skip offsets the broker already deleted (they are lost), instead of failing")
    kafka.set_defaults(func=cmd_ingest_kafka)

    sub.add_parser("tables", help="list the table registry").set_defaults(func=cmd_tables)
    status = sub.add_parser("status", help="partitions, rows and quarantined rows per table")
    status.add_argument("--start", type=_day)
    status.add_argument("--end", type=_day)
    status.set_defaults(func=cmd_status)
    sub.add_parser("health", help="expected vs present partitions, Delta version, recent row counts").set_defaults(
        func=cmd_health)
    quality = sub.add_parser("quality", help="a table's recent metrics per partition, with the anomaly bands and "
                             "outliers (docs/quality.md)")
    quality.add_argument("table", help="layer.table, e.g. gold.daily_sales_summary")
    quality.add_argument("--days", type=int, default=28, help="partitions shown (default 28)")
    quality.add_argument("--metric", help="only metrics matching this pattern, e.g. 'null_fraction.*'")
    quality.set_defaults(func=cmd_quality)
    from lakehouse.query.commands import add_commands  # query, databases, catalog-tables, describe

    add_commands(sub)
    from lakehouse.service.commands import add_commands as add_service_commands  # keys, serve

    add_service_commands(sub)

    args = parser.parse_args(argv)
    import warnings

    warnings.filterwarnings("ignore", message=".*(beta|preview).*", category=Warning)
    try:
        args.settings = Settings.from_env()  # resolved once here, for every command
        return args.func(args)
    except Exception as exc:  # a command-line user gets the message, not a stack trace
        if isinstance(exc, (LakehouseError, KeyError, FileNotFoundError, ValueError)):
            sys.stderr.write(f"error: {error_line(exc)}\n")
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
