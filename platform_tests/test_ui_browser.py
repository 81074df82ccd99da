"""The real Dagster webserver shows the lakehouse: asset graph in headless Chromium, plus its GraphQL API."""
from __future__ import annotations

import os
import subprocess

import pytest
from browser_testing import ARTIFACTS, CHROMIUM, FLAGS, dagster_webserver, graphql

from lakehouse.pipeline.registry import all_specs

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dagster_webserver({**os.environ, "DAGSTER_HOME": str(home), "LAKEHOUSE_HOME": str(home / "lh")}) as url:
        yield url


def test_every_table_is_an_asset_with_its_group_and_description(webserver):
    data = graphql(webserver, "{ assetNodes { assetKey { path } groupName description } }")
    nodes = {".".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    for spec in all_specs():
        assert spec.id in nodes
        assert nodes[spec.id]["groupName"] == f"{spec.domain}_{spec.layer}"
        assert nodes[spec.id]["description"] == spec.description


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it when apt works)")
def test_asset_graph_renders_in_headless_chromium(webserver, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    base = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    lineage = f"{webserver}/asset-groups"
    dom = subprocess.run([*base, "--dump-dom", lineage], capture_output=True, text=True, timeout=120).stdout
    shot = ARTIFACTS / "asset-graph.png"
    subprocess.run([*base, f"--screenshot={shot}", lineage], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    for group in ("commerce_bronze", "commerce_silver", "commerce_gold"):
        assert group in dom, f"group {group} not rendered in the asset graph"
    # the catalog renders its list lazily, so look at one layer's folder at a time
    for layer, name in (("bronze", "shop_orders"), ("silver", "fx_rates"), ("gold", "daily_sales_summary")):
        catalog = subprocess.run([*base, "--dump-dom", f"{webserver}/assets/{layer}"], capture_output=True,
                                 text=True, timeout=120).stdout
        assert name in catalog, f"asset {layer}.{name} not listed in the catalog page"
