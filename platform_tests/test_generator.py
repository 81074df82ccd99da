"""The sample-data generator: deterministic, dirty on purpose, and referentially sane."""
from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from lakehouse.generate.commerce import land_commerce
from lakehouse.ingest.readers import read_landing_partition
from lakehouse.tables.registry import specs_in


def _bytes(uris):
    return {u.rsplit("/", 4)[-4:].__str__(): Path(urlparse(u).path).read_bytes() for u in uris}


def test_same_arguments_write_the_same_bytes(lakehouse_env, tmp_path):
    first = _bytes(land_commerce(lakehouse_env, date(2024, 6, 3), 2, 80, 42))
    again = _bytes(land_commerce(lakehouse_env, date(2024, 6, 3), 2, 80, 42))
    assert first == again and len(first) == 14
    other = _bytes(land_commerce(lakehouse_env.with_(landing=(tmp_path / "x").as_uri()), date(2024, 6, 3), 2, 80, 43))
    assert other != first


def test_data_is_mostly_clean_but_dirty_on_purpose(lakehouse_env):
    land_commerce(lakehouse_env, date(2024, 6, 3), 2, 400, 3)
    total = quarantined = 0
    for spec in specs_in("bronze"):
        for dt in ("2024-06-03", "2024-06-04"):
            result = read_landing_partition(lakehouse_env, spec, dt)
            total += result.table.num_rows + result.quarantine.num_rows
            quarantined += result.quarantine.num_rows
    assert 0 < quarantined < 0.05 * total
    orders = read_landing_partition(lakehouse_env, specs_in("bronze")[0], "2024-06-04").table.to_pylist()
    assert any(r["currency"] == "XXX" for r in orders)
    assert any(r["quantity"] in ("0", "-1") for r in orders)
    ids = [r["order_id"] for r in orders]
    assert len(ids) > len(set(ids))  # re-sent lines


def test_orders_reference_known_customers_products_and_rated_currencies(lakehouse_env):
    uris = land_commerce(lakehouse_env, date(2024, 6, 3), 2, 200, 9)
    files = {u.split("/landing/")[1].split("/dt=")[0] + "/" + u.rsplit("dt=", 1)[1][:10]: u for u in uris}

    def rows(key):
        text = Path(urlparse(files[key]).path).read_text()
        return list(csv.DictReader(io.StringIO(text)))

    customers = {r["customer_id"] for r in rows("shop/customers/2024-06-03")}
    products = {r["product_id"] for r in rows("shop/products/2024-06-04")}
    rated = {r["currency"] for r in rows("fx/rates/2024-06-04")} | {"USD"}
    orders = [r for r in rows("shop/orders/2024-06-04") if r.get("payment_method")]
    assert sum(r["customer_id"] in customers for r in orders) > 0.95 * len(orders)
    assert all(r["product_id"] in products for r in orders if r["product_id"])
    assert sum(r["currency"] in rated for r in orders) > 0.95 * len(orders)
