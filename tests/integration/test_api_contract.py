"""The API keeps the promises of its own OpenAPI document: schemathesis generates requests
from ``/api/v1/openapi.json`` as served by waitress on loopback, and every answer must be a
documented, schema-conforming response, never a 5xx.

Runs on SQLite only: the contract is the web layer's, and the back ends are covered by the
other API tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from service_fixtures import make_token


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Overrides the two-back-end fixture of service_fixtures for this module."""
    return f"sqlite:///{tmp_path / 'grader.db'}"


@pytest.fixture
def api_schema(live_service):  # noqa: ANN001, ANN201
    return schemathesis.openapi.from_url(f"{live_service.url}/api/v1/openapi.json")


@pytest.fixture
def student_token(live_service) -> str:  # noqa: ANN001
    return make_token(live_service.db, live_service.accounts["student"].email)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_every_generated_request_as_its_document_says(case, student_token):  # noqa: ANN001
    case.call_and_validate(headers={"Authorization": f"Bearer {student_token}"},
                           checks=[not_a_server_error, response_schema_conformance], timeout=30)
