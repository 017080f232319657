"""Fuzz the service from its own OpenAPI schema (schemathesis): whatever the
requests, no 5xx, and every answer matches the schema."""

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")
from hypothesis import HealthCheck, settings  # noqa: E402

from codeloop.scoring.local import LocalScorer  # noqa: E402
from codeloop.service.app import create_app  # noqa: E402
from codeloop.tasks import load_benchmark  # noqa: E402

pytestmark = pytest.mark.sandbox

SCORER = LocalScorer(load_benchmark("humaneval"), workers=2)
APP = create_app(SCORER, token="fuzz", max_batch=8, max_run_timeout=5)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, headers={"Authorization": "Bearer fuzz"})


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_fuzz(case):
    case.headers = {**(case.headers or {}), "Authorization": "Bearer fuzz"}
    response = case.call()
    assert response.status_code < 500, (case.path, response.status_code, response.text[:500])
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])


def teardown_module(module):
    SCORER.close()
