"""Schemathesis against the service's OpenAPI document, on a real server: generated requests to every operation
never get a 5xx, and every answer (status, content type, body, headers) is one the document declares.

The cases are generated from the app's own document (schemathesis' fixture-based loader does not run on pytest 9),
and the first test checks that the running server's /openapi.json is that same document. Bounded: EXAMPLES per
operation, and once BUDGET seconds have passed the remaining examples are skipped.
"""
from __future__ import annotations

import os
import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from lakehouse.config import Settings
from lakehouse.service import create_app
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig
from service_testing import add_key, build_lake, running

EXAMPLES = int(os.environ.get("SERVICE_FUZZ_EXAMPLES", 30))  # raise it for a longer hunt
BUDGET = float(os.environ.get("SERVICE_FUZZ_SECONDS", 120))  # for the whole module
DOCUMENT = create_app(Settings.from_env({})).openapi()  # building the app touches no file
# A body over 1 MB is refused with 413 before it is parsed; that is a rejection too.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
schema = schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}}))
_began: list[float] = []


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lake = build_lake(tmp_path_factory.mktemp("openapi"))
    key = add_key(lake, "fuzzer", "raw", "pii", rate=1_000_000)
    # schemathesis sends requests without a key to every operation: the limit on those is tested in test_service
    with running(lake.with_(query_timeout=5.0, serve_auth_failures=10_000), warm=True) as url:
        yield url, key


def test_the_server_publishes_this_document(served):
    url, _ = served
    assert httpx.get(f"{url}/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])
def test_every_answer_is_one_the_document_declares(case, served):
    _began.append(_began[0] if _began else time.monotonic())
    if time.monotonic() - _began[0] > BUDGET:
        return
    url, key = served
    response = case.call(base_url=url, headers={"Authorization": f"Bearer {key}"})
    # A string the schema allows as `sql` is rarely a query the guard accepts: refusing it is the point.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
