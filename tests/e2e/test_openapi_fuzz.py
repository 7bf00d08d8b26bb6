"""Schemathesis drives every documented operation of a real server with generated requests:
no input may cause a 5xx, and every answer must match the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance

from imagefactory import jpeg_bytes
from scopix.server.testing import ServerProcess, start_server


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("fuzz") / "data")
    key = server.keys()[0]
    for seed in range(3):  # something for the id-taking routes to find
        httpx.post(
            f"{server.base_url}/api/v2/files/upload",
            files={"file": (f"{seed}.jpg", jpeg_bytes(80, 60, seed=seed))},
            headers={"Authorization": f"Bearer {key}"},
        ).raise_for_status()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(live_server: ServerProcess) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_url(f"{live_server.base_url}/api/v2/openapi.json")


def excluded(case: schemathesis.Case) -> list[CheckFunction]:
    """Generated file bytes are schema-valid yet rarely an image, and generated URLs rarely
    ones the server may fetch, so uploads, links and webhooks may refuse them; a generated
    JSON object is rarely an extraction schema within the rules (depth, size, keywords) that
    an OpenAPI document cannot state, so extraction routes may refuse it (422 naming the rule)."""
    # webhooks: their URLs are fetched too
    refusable = ("upload", "links", "webhooks", "extract")
    return [positive_data_acceptance] if any(part in case.path for part in refusable) else []


def refused_for_disk(response: Any) -> bool:
    """A generated size larger than this machine's disk is refused with the documented 507
    INSUFFICIENT_STORAGE (API.md, "Limits every route keeps"): an answer, not a crash."""
    if response.status_code != 507:
        return False
    return bool(response.json()["error"]["code"] == "INSUFFICIENT_STORAGE")


def refused_name(response: Any) -> bool:
    """A generated project name that is blank once trimmed, or holds a control or format
    character, is refused with 422 naming the field (domain.fields.validate_name): the rule
    covers all of Unicode's format characters, which no pattern that both the OpenAPI
    document's readers and this generator understand can list. The answer must still match
    the document."""
    if response.status_code != 422:
        return False
    error = response.json()["error"]
    return bool(error["code"] == "VALIDATION_ERROR" and error["details"].get("field") == "name")


def test_generated_requests_get_documented_answers(
    api_schema: schemathesis.schemas.BaseSchema, live_server: ServerProcess
) -> None:
    headers = {"Authorization": f"Bearer {live_server.keys()[0]}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            if case.path == "/api/v2/events":  # a generated wait would hold each call 30 s
                case.query = {**(case.query or {}), "timeout": 0}
            response = case.call(headers=headers)
            if refused_for_disk(response):
                return
            skipped = excluded(case)
            if refused_name(response):
                skipped = [positive_data_acceptance]
            case.validate_response(response, excluded_checks=skipped)

        call()


def test_the_fuzzed_server_still_serves(live_server: ServerProcess) -> None:
    assert httpx.get(f"{live_server.base_url}/healthz").status_code == 200
