"""`POST /usage/check`: whether planned work fits in the tenant's credits."""

from __future__ import annotations

from typing import Any

import pytest

from apiclient import Api

CHECK = "/api/v2/usage/check"


async def test_work_that_fits(api: Api) -> None:  # the fixture's tenant: starter, 500 a month
    response = await api.client.post(CHECK, json={"item_count": 20})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["can_proceed"] is True
    assert body["available_credits"] == 500
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) == {"can_proceed", "available_credits", "message"}


@pytest.mark.parametrize("level", ["basic", "standard", "detailed"])
async def test_every_level_costs_one_credit_an_item(api: Api, level: str) -> None:
    for count, fits in [(500, True), (501, False)]:
        response = await api.client.post(CHECK, json={"item_count": count, "analysis_level": level})
        assert response.status_code == 200, response.text
        assert response.json()["can_proceed"] is fits
        assert response.json()["available_credits"] == 500


async def test_work_that_does_not_fit(api: Api) -> None:
    created = await api.services.keys.create_key("tiny", tier="free")
    response = await api.client.post(
        CHECK,
        json={"item_count": 11, "analysis_level": "detailed"},
        headers=api.auth(created.plaintext),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["can_proceed"], body["available_credits"]) == (False, 10)
    assert "11" in body["message"] and "10" in body["message"]


async def test_usage_agrees_with_the_quota_check(api: Api) -> None:
    usage = (await api.client.post(CHECK, json={"item_count": 3})).json()
    quota = (await api.client.get("/api/v2/uploads/quota-check", params={"file_count": 3})).json()
    assert usage["can_proceed"] == quota["can_proceed"]
    assert usage["available_credits"] == quota["available"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "item_count"),
        ({"item_count": 0}, "item_count"),
        ({"item_count": 10_001}, "item_count"),
        ({"item_count": "many"}, "item_count"),
        ({"item_count": 1, "analysis_level": "extreme"}, "analysis_level"),
        ({"item_count": 1, "priority": "high"}, "priority"),
    ],
)
async def test_bad_bodies_are_validation_errors(api: Api, body: dict[str, Any], field: str) -> None:
    response = await api.client.post(CHECK, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert any(p["field"] == field for p in error["details"]["errors"]), error


async def test_a_body_that_is_not_json_is_refused(api: Api) -> None:
    response = await api.client.post(
        CHECK, content=b"item_count=3", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_it_needs_a_key(api: Api) -> None:
    del api.client.headers["Authorization"]
    response = await api.client.post(CHECK, json={"item_count": 1})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_API_KEY"


async def test_a_read_key_is_enough(api: Api) -> None:
    created = await api.services.keys.create_key("acme", scopes=("read",))
    response = await api.client.post(
        CHECK, json={"item_count": 1}, headers=api.auth(created.plaintext)
    )
    assert response.status_code == 200, response.text
