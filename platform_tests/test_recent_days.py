"""A newcomer's lake lives in the present: `land` and `demo` default to the 7 days up to yesterday, the tables'
partitions start 10 days before today (UTC), and a day nothing landed for reads as waiting, not failing: in
`lakehouse status`, on the partition in Dagster, and in the UI's partitions view (headless Chromium)."""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from browser_testing import CHROMIUM, chromium, dagster_webserver, graphql
from dagster import AssetKey, DagsterInstance

from lakehouse import cli
from lakehouse.config import Settings, utc_today
from lakehouse.model.partitions import partitions_def
from lakehouse.pipeline.readiness import NOTHING_LANDED
from lakehouse.pipeline.registry import get_spec, specs_in

GOLD = "gold.daily_sales_summary"


def _recent(days: int) -> list[str]:
    """The `days` days up to yesterday (UTC), oldest first."""
    return [(utc_today() - timedelta(days=n)).isoformat() for n in range(days, 0, -1)]


def _today_defaults(monkeypatch, home: Path) -> None:
    """A person's environment: no LAKEHOUSE_START_DATE (the tests' conftest pins one), a lake of its own."""
    monkeypatch.delenv("LAKEHOUSE_START_DATE")
    monkeypatch.setenv("LAKEHOUSE_HOME", str(home))
    for var in ("LAKEHOUSE_WAREHOUSE", "LAKEHOUSE_LANDING", "LAKEHOUSE_GLUE_PREFIX", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)


def _landed(settings: Settings, prefix: str) -> list[str]:
    folder = Path(urlparse(settings.landing).path) / prefix
    return sorted(p.name.removeprefix("dt=") for p in folder.iterdir())


def test_land_defaults_to_the_week_up_to_yesterday_inside_partitions_that_start_three_days_before(
        monkeypatch, tmp_path, capsys):
    _today_defaults(monkeypatch, tmp_path / "lh")
    assert cli.main(["land", "--rows", "5"]) == 0
    settings = Settings.from_env()
    week = _recent(7)
    assert _landed(settings, "shop/orders") == week
    assert f"{week[0]}..{week[-1]}" in capsys.readouterr().out
    assert settings.start_date == (utc_today() - timedelta(days=10)).isoformat()
    keys = partitions_def(get_spec(GOLD), settings.start_date).get_partition_keys()
    assert keys[:3] == _recent(10)[:3] and keys[3:10] == week and keys[-1] == utc_today().isoformat()
    # every process (webserver, daemon, run workers) resolves the same first partition the same day
    other = subprocess.run([sys.executable, "-c", "from lakehouse.config import Settings; "
                            "print(Settings.from_env().start_date)"], capture_output=True, text=True, check=True,
                           env={**os.environ, "TZ": "Pacific/Kiritimati"})  # UTC+14: its own date may differ
    assert other.stdout.strip() == settings.start_date

    # `yesterday` names the last complete day; a day before the first partition is refused in one line
    assert cli.main(["land", "--start", "yesterday", "--days", "1", "--rows", "5"]) == 0
    assert cli.main(["materialize", "--start", "2024-06-03", "--domain", "commerce"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: 2024-06-03 is before the first partition, {settings.start_date} "
                          "(LAKEHOUSE_START_DATE") and err.count("\n") == 1
    # landing older days works, and says the sensor will not process them without a start date
    assert cli.main(["land", "--start", "2024-06-03", "--days", "1", "--rows", "5"]) == 0
    assert "set LAKEHOUSE_START_DATE=2024-06-03 to include them" in " ".join(capsys.readouterr().out.split())


def _said(instance, table: str) -> list[tuple[str, str]]:
    """(partition, status) of the table's observations, newest first."""
    seen = instance.fetch_observations(AssetKey(get_spec(table).asset_key_path), limit=5).records
    return [(r.partition_key, r.asset_observation.metadata["status"].value) for r in seen]


@pytest.mark.slow
def test_a_day_nothing_landed_for_is_waiting_on_its_partition_not_failing(lakehouse_env):
    """Materializing a day with no files publishes nothing and fails nothing; the partitions the run looked at
    carry an observation saying nothing landed for them (the UI lists it with the partition's events)."""
    from lakehouse.definitions import build_definitions
    from lakehouse.runs import materialize_range

    defs, instance, day = build_definitions(), DagsterInstance.ephemeral(), "2024-06-10"
    run = materialize_range(defs, day, day, instance=instance, domain="commerce", include_monthly=False,
                            log_level="WARNING")
    assert run.success, run.failures()
    assert all(r.get_asset_materialization_events() == [] for r in run.results)
    for spec in specs_in("bronze", domain="commerce"):  # the rest of the run waits on them (steps skipped)
        if spec.landing is not None:
            assert _said(instance, spec.id) == [(day, NOTHING_LANDED)], spec.id
    # gold on its own (a click in the UI, a backfill): skipped, and it says why on the partition
    gold = defs.resolve_job_def("commerce_daily").execute_in_process(
        instance=instance, partition_key=day, asset_selection=[AssetKey(get_spec(GOLD).asset_key_path)])
    assert gold.success and gold.get_asset_materialization_events() == []
    assert _said(instance, GOLD) == [(day, NOTHING_LANDED)]


@pytest.fixture(scope="module")
def recent_lake(tmp_path_factory, spark):
    """A small `make demo`: commerce landed for the 3 days up to yesterday and materialized with the CLI into a
    persistent Dagster home, in a person's environment (no LAKEHOUSE_START_DATE: partitions start 10 days back);
    then gold alone over the first partition, which nothing landed for. Returns the environment it ran with."""
    home = tmp_path_factory.mktemp("recent")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with pytest.MonkeyPatch.context() as patch:
        _today_defaults(patch, home / "lh")
        patch.setenv("DAGSTER_HOME", str(home))
        days = _recent(3)
        assert cli.main(["land", "--domain", "commerce", "--days", "3", "--rows", "40"]) == 0
        assert cli.main(["materialize", "--start", days[0], "--end", "yesterday", "--domain", "commerce"]) == 0
        from lakehouse.definitions import build_definitions

        first = Settings.from_env().start_date
        gold = build_definitions().resolve_job_def("commerce_daily").execute_in_process(
            instance=DagsterInstance.get(), partition_key=first, asset_selection=[AssetKey(["gold", "daily_sales_summary"])])
        assert gold.success
        env = dict(os.environ)
    return env, days, first


@pytest.mark.slow
def test_status_counts_the_expected_days_nothing_landed_for(recent_lake, monkeypatch, capsys):
    env, days, first = recent_lake
    for name in ("LAKEHOUSE_HOME", "DAGSTER_HOME"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.delenv("LAKEHOUSE_START_DATE")

    def status() -> tuple[dict[str, list[str]], str]:
        assert cli.main(["status"]) == 0
        out = capsys.readouterr().out
        return {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
                for line in out.splitlines() if line.startswith("│")}, " ".join(out.split())

    rows, text = status()
    # 11 partitions (10 days back to today), 3 landed and built: 8 expected and missing, all waiting for files
    assert rows[GOLD][1] == "3" and rows[GOLD][4] == "8 nothing landed"
    assert rows["bronze.shop_orders"][4] == "8 nothing landed"
    assert rows["gold.billing_daily_revenue"][4] == "source off"  # no LAKEHOUSE_BILLING_DSN: nothing expected
    assert f"tables {first}..{utc_today().isoformat()}" in text
    assert "are days nothing has landed for yet (waiting for files, not failures)" in text
    # a day that landed but was not materialized is a gap to build, not a day to wait for
    landed_only = _recent(4)[0]
    assert cli.main(["land", "--domain", "commerce", "--start", landed_only, "--days", "1", "--rows", "5"]) == 0
    rows, text = status()
    assert rows[GOLD][4] == "7 nothing landed, 1 not built" and "lakehouse materialize --start DAY builds them" in text


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make browser-deps)")
def test_partitions_view_opens_on_the_landed_days_materialized(recent_lake, tmp_path):
    """What a newcomer sees after the demo: gold.daily_sales_summary's partitions, newest first, are today
    (nothing landed yet), then the landed days, materialized; the oldest day says nothing landed for it."""
    env, days, first = recent_lake
    rows_js = ("[...document.querySelectorAll('[class*=assetListRow]')].map(r => "
               "[r.querySelector('[title]').title, r.querySelector('div[style*=border-radius]').style.background])")
    with dagster_webserver(env) as url, chromium(tmp_path) as page:
        graphql(url, "mutation { setNuxSeen }")  # the community sign-up dialog a first visit opens over the page
        page.call("Page.navigate", url=f"{url}/assets/gold/daily_sales_summary?view=partitions")
        page.wait("document.querySelectorAll('[class*=assetListRow]').length >= 11", 90)
        text = page.wait("document.body.innerText.includes('Materialized (3)') && document.body.innerText")
        assert "11 Partitions Selected" in text and "Missing (8)" in text and "Failed (0)" in text
        rows = page.js(rows_js)
        assert [key for key, _ in rows[:4]] == [utc_today().isoformat(), *reversed(days)]
        assert ["green" in dot for _, dot in rows[:4]] == [False, True, True, True]
        assert rows[-1][0] == first and "gray" in rows[-1][1]
        shot = tmp_path / "partitions.png"
        shot.write_bytes(base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"]))
        assert shot.stat().st_size > 10_000

        # the oldest day, which nothing landed for, says so with its events (a waiting day, not a failure)
        page.call("Page.navigate", url=f"{url}/assets/gold/daily_sales_summary?view=events&partition={first}")
        said = page.wait(f"document.body?.innerText.includes('{first}: nothing landed for this day') && "
                         "document.body.innerText", 60)  # the event's description, then its metadata
        assert f"Partition {first} observed" in said and "no file under file://" in said
