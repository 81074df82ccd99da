"""The service's page in headless Chromium, driven over the DevTools protocol: a key, the table list, a query,
its result a page at a time, an error, and data that looks like markup shown as text."""
from __future__ import annotations

import base64
import json

import pyarrow as pa
import pytest

from browser_testing import ARTIFACTS, CHROMIUM, chromium
from service_testing import add_key, build_lake, put, running

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make browser-deps)")]
PRODUCTS = 60
MARKUP = '<img src=x onerror="document.title=\'pwned\'">'
CONTROL = "\x1b[31mred\x1b[0m"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lake = build_lake(tmp_path_factory.mktemp("page"))
    names = [MARKUP if i == 1 else CONTROL if i == 2 else f"Product {i}" for i in range(PRODUCTS)]
    put(lake, "silver.products", pa.table({"product_id": [f"p-{i:02d}" for i in range(PRODUCTS)], "name": names,
                                           "dt": ["2024-06-03"] * PRODUCTS}))
    key = add_key(lake, "page-reader", rate=100_000)
    with running(lake) as url:
        yield url, key


def _text(selector: str) -> str:
    return f"document.querySelector({json.dumps(selector)}).textContent"


def test_the_page_lists_tables_runs_a_query_and_pages_through_it(served, tmp_path):
    url, key = served
    with chromium(tmp_path) as page:
        page.call("Page.navigate", url=f"{url}/")
        page.wait("document.readyState === 'complete' && !!document.getElementById('key-form')")
        page.js("document.getElementById('key').value = 'lhk_000000000000_' + 'x'.repeat(43);"
                "document.getElementById('key-form').requestSubmit()")
        assert "not valid" in page.wait(f"{_text('#tables')}.includes('not valid') && {_text('#tables')}")

        page.js(f"document.getElementById('key').value = {json.dumps(key)};"
                "document.getElementById('key-form').requestSubmit()")
        page.wait("document.querySelectorAll('#tables button.table').length > 10")
        assert page.js(_text("#who")) == f"key {key.split('_')[1]}" and page.js("document.getElementById('key').value") == ""
        locked = page.js("[...document.querySelectorAll('#tables button.locked')].map(b => b.textContent)")
        assert "bronze.shop_customers" in locked and "silver.products" not in locked  # this key has no raw scope
        page.js("[...document.querySelectorAll('#tables button')].find(b => b.textContent === 'silver.products').click()")
        assert page.js("document.getElementById('sql').value").startswith("SELECT * FROM silver.products WHERE dt =")

        page.js("document.getElementById('sql').value = 'SELECT product_id, name FROM silver.products ORDER BY 1';"
                "document.getElementById('page-size').value = '25';"
                "document.getElementById('query-form').requestSubmit()")
        page.wait(f"{_text('#range')} === 'rows 1\u201325 of 60'")
        assert page.js("document.querySelectorAll('#grid tbody tr').length") == 25
        cells = page.js("[...document.querySelectorAll('#grid tbody tr')].slice(0, 3).map(r => r.cells[1].textContent)")
        assert cells == ["Product 0", MARKUP, "\\u001b[31mred\\u001b[0m"]  # markup as text, controls visible
        assert page.js("document.querySelectorAll('#grid img').length") == 0 and page.js("document.title") != "pwned"
        assert page.js("document.getElementById('prev').disabled") is True

        page.js("document.getElementById('next').click()")
        page.wait(f"{_text('#range')} === 'rows 26\u201350 of 60'")
        assert page.js("document.querySelector('#grid tbody td').textContent") == "p-25"
        page.js("document.getElementById('next').click()")
        page.wait(f"{_text('#range')} === 'rows 51\u201360 of 60'")
        assert page.js("document.getElementById('next').disabled") is True
        page.js("document.getElementById('prev').click()")
        page.wait(f"{_text('#range')} === 'rows 26\u201350 of 60'")

        page.js("document.getElementById('sql').value = 'DROP TABLE silver.products';"
                "document.getElementById('query-form').requestSubmit()")
        message = page.wait("document.getElementById('status').className === 'error' && "
                            "document.getElementById('status').textContent")
        assert message.startswith("refused: DROP statement")

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "service-page.png"
        shot.write_bytes(base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"]))
        assert shot.stat().st_size > 10_000
