"""The service under concurrent load, on a real server: 20 clients with different keys and scopes at once, each
getting exactly its own results and pages; a runaway query stopped by the statement timeout while others go on."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lakehouse.service.errors import ServiceError
from lakehouse.service.keys import ApiKey
from lakehouse.service.service import Service
from security_lake import EMAIL_HASH, ORDERS, RAW_EMAIL
from service_testing import REGIONS, add_key, build_lake, client, one_line_error, running

SCOPES = [(), ("pii",), ("raw",), ("raw", "pii")]
CLIENTS = 20
# 8 billion rows of arithmetic: DuckDB cannot shortcut it as it does count(*) over a cross join
RUNAWAY = "SELECT sum(a.amount * b.amount * c.amount) AS s FROM silver.orders a, silver.orders b, silver.orders c"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return build_lake(tmp_path_factory.mktemp("load"))


def _own_results(url: str, name: str, key: str, start: threading.Barrier) -> dict:
    customers = f"SELECT '{name}' AS who, customer_id, email_hash FROM silver.customers ORDER BY customer_id"
    with client(url, key) as http:
        start.wait()
        first = http.post("/v1/query", json={"sql": customers, "page_size": 1})
        second = http.get(f"/v1/results/{first.json()['next_cursor']}")
        raw = http.post("/v1/query", json={"sql": f"SELECT '{name}' AS who, email FROM bronze.shop_customers"})
        return {"first": first.json(), "second": second.json(), "raw": (raw.status_code, raw.json())}


def test_twenty_concurrent_clients_each_get_exactly_their_own_results(lake):
    clients = {f"client-{i:02d}": SCOPES[i % len(SCOPES)] for i in range(CLIENTS)}
    keys = {name: add_key(lake, name, *scopes) for name, scopes in clients.items()}
    start = threading.Barrier(CLIENTS)
    with running(lake) as url:
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = {name: pool.submit(_own_results, url, name, keys[name], start) for name in clients}
            answers = {name: future.result(timeout=120) for name, future in futures.items()}
        for name, scopes in clients.items():
            got = answers[name]
            shown = EMAIL_HASH if "pii" in scopes else "***"
            assert got["first"]["rows"] == [[name, "c1", shown]] and got["first"]["total_rows"] == 2
            assert got["second"]["rows"] == [[name, "c2", None]] and got["second"]["next_cursor"] is None
            status, body = got["raw"]
            if "raw" in scopes:
                assert status == 200 and body["rows"] == [[name, RAW_EMAIL if "pii" in scopes else "***"]]
            else:
                assert status == 403 and body["missing_scope"] == "raw"
        # and nobody can read a neighbour's result through its cursor
        names = list(clients)
        for name, neighbour in zip(names, names[1:] + names[:1]):
            cursor = answers[neighbour]["first"]["next_cursor"]
            with client(url, keys[name]) as http:
                one_line_error(http.get(f"/v1/results/{cursor}"), 404, "unknown_cursor")


def test_a_slow_query_times_out_while_others_go_on(lake):
    timeout = 3.0
    readers = {f"quick-{i}": add_key(lake, f"quick-{i}", rate=100_000) for i in range(3)}
    slow_key = add_key(lake, "slow")
    quick_sql = "SELECT region, count(*) AS n, sum(amount) AS amount FROM silver.orders GROUP BY region ORDER BY region"
    done: dict[str, list] = {name: [] for name in readers}
    with running(lake.with_(query_timeout=timeout), warm=True) as url:
        def slow():
            with client(url, slow_key) as http:
                began = time.monotonic()
                response = http.post("/v1/query", json={"sql": RUNAWAY})
                return response, time.monotonic() - began, time.monotonic()

        def quick(name):
            with client(url, readers[name]) as http:
                time.sleep(0.3)  # the slow query is running by now
                for _ in range(4):
                    response = http.post("/v1/query", json={"sql": quick_sql})
                    done[name].append((response.status_code, response.json()["rows"], time.monotonic()))

        with ThreadPoolExecutor(4) as pool:
            stopped = pool.submit(slow)
            for future in [pool.submit(quick, name) for name in readers]:
                future.result(timeout=120)
            response, took, ended = stopped.result(timeout=120)
    body = one_line_error(response, 422, "timeout")
    assert f"stopped after {timeout:g} s, the statement timeout" in body["message"]
    assert timeout <= took < timeout + 10
    finished = [entry for entries in done.values() for entry in entries]
    assert len(finished) == 12 and all(status == 200 for status, _, _ in finished)
    expected = [[region, sum(1 for i in range(ORDERS) if REGIONS[i % 3] == region),
                 sum(float(i % 97) for i in range(ORDERS) if REGIONS[i % 3] == region)] for region in sorted(REGIONS)]
    assert all(rows == expected for _, rows, _ in finished)
    assert all(at < ended for _, _, at in finished), "a quick query waited for the slow one"


def test_queries_wait_for_a_slot_and_give_up_with_503(lake, tmp_path):
    service = Service(lake.with_(serve_concurrency=1, serve_key_concurrency=1, query_timeout=0.2,
                                 serve_audit=tmp_path / "audit.jsonl"))
    one, other = (ApiKey(name, name, "", ()) for name in ("one", "other"))
    with service.slot(one):
        began = time.monotonic()
        with pytest.raises(ServiceError) as busy:
            with service.slot(other):
                pass
    assert busy.value.status == 503 and busy.value.headers == {"Retry-After": "1"}
    assert "all 1 query slots stayed busy" in busy.value.message and time.monotonic() - began >= 0.2
    with service.slot(other):  # released: free again
        pass
