"""Projects through the API, on SQLite and on PostgreSQL: names unique per tenant in any case,
pages by name, renames and deletes, and another tenant's projects never seen."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from apiclient import Api
from scopix import ResourceNotFoundError, Scopix, ScopixError


async def create(api: Api, name: str, key: str | None = None) -> httpx.Response:
    return await api.client.post("/api/v2/projects", json={"name": name}, headers=api.auth(key))


async def created(api: Api, name: str) -> dict[str, Any]:
    answer = await create(api, name)
    assert answer.status_code == 201, answer.text
    project: dict[str, Any] = answer.json()
    return project


def error_code(answer: httpx.Response) -> str:
    code: str = answer.json()["error"]["code"]
    return code


async def test_a_project_is_created_read_renamed_and_deleted(api: Api) -> None:
    project = await created(api, "  Holiday 2026 ")
    assert project["name"] == "Holiday 2026"
    assert set(project) == {"id", "name", "created_at", "updated_at"}
    read = await api.client.get(f"/api/v2/projects/{project['id']}")
    assert read.status_code == 200 and read.json() == project

    renamed = await api.client.patch(f"/api/v2/projects/{project['id']}", json={"name": "Trips"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Trips"
    assert renamed.json()["updated_at"] >= project["updated_at"]

    deleted = await api.client.delete(f"/api/v2/projects/{project['id']}")
    assert deleted.status_code == 204
    gone = await api.client.get(f"/api/v2/projects/{project['id']}")
    assert gone.status_code == 404 and error_code(gone) == "NOT_FOUND"


async def test_a_name_is_taken_in_any_letter_case_but_only_within_the_tenant(api: Api) -> None:
    await created(api, "Photos")
    again = await create(api, "PHOTOS")
    assert again.status_code == 409 and error_code(again) == "CONFLICT"
    assert again.json()["error"]["details"]["field"] == "name"
    elsewhere = await create(api, "photos", key=api.other_key)
    assert elsewhere.status_code == 201


async def test_a_rename_may_change_the_case_of_its_own_name_but_not_take_another(api: Api) -> None:
    photos, videos = await created(api, "photos"), await created(api, "videos")
    own = await api.client.patch(f"/api/v2/projects/{photos['id']}", json={"name": "Photos"})
    assert own.status_code == 200 and own.json()["name"] == "Photos"
    taken = await api.client.patch(f"/api/v2/projects/{videos['id']}", json={"name": "PHOTOS"})
    assert taken.status_code == 409
    unchanged = await api.client.get(f"/api/v2/projects/{videos['id']}")
    assert unchanged.json()["name"] == "videos"


async def test_projects_are_listed_by_name_a_page_at_a_time(api: Api) -> None:
    for name in ("beta", "Alpha", "gamma", "delta"):
        await created(api, name)
    await create(api, "zeta", key=api.other_key)
    first = (await api.client.get("/api/v2/projects", params={"limit": 3})).json()
    assert [p["name"] for p in first["items"]] == ["Alpha", "beta", "delta"]
    assert (first["total_count"], first["has_more"]) == (4, True)
    rest = (await api.client.get("/api/v2/projects", params={"limit": 3, "offset": 3})).json()
    assert [p["name"] for p in rest["items"]] == ["gamma"]
    assert rest["has_more"] is False
    too_many = await api.client.get("/api/v2/projects", params={"limit": 101})
    assert too_many.status_code == 422


async def test_another_tenants_project_is_not_found_and_stays_as_it_was(api: Api) -> None:
    theirs = (await create(api, "Secret", key=api.other_key)).json()
    path = f"/api/v2/projects/{theirs['id']}"
    for answer in (
        await api.client.get(path),
        await api.client.patch(path, json={"name": "Mine now"}),
        await api.client.delete(path),
    ):
        assert answer.status_code == 404 and error_code(answer) == "NOT_FOUND"
    assert (await api.client.get("/api/v2/projects")).json()["total_count"] == 0
    still = await api.client.get(path, headers=api.auth(api.other_key))
    assert still.json() == theirs


async def test_bad_names_and_bodies_are_refused_with_the_field_named(api: Api) -> None:
    for name in ("", "   ", "..", "tab\there", "x" * 256):
        answer = await create(api, name)
        assert answer.status_code == 422, name
        assert error_code(answer) == "VALIDATION_ERROR"
        assert answer.json()["error"]["details"]["field"] == "name"
    extra = await api.client.post("/api/v2/projects", json={"name": "a", "colour": "red"})
    assert extra.status_code == 422
    garbage = await api.client.get("/api/v2/projects/not-an-id")
    assert garbage.status_code == 404
    assert (await api.client.get("/api/v2/projects")).json()["total_count"] == 0


async def test_a_read_only_key_reads_projects_but_cannot_change_them(api: Api) -> None:
    project = await created(api, "Shared")
    read_only = (await api.services.keys.create_key("acme", scopes=("read",))).plaintext
    assert (
        await api.client.get("/api/v2/projects", headers=api.auth(read_only))
    ).status_code == 200
    refused = await create(api, "Mine", key=read_only)
    assert refused.status_code == 403 and error_code(refused) == "PERMISSION_DENIED"
    path = f"/api/v2/projects/{project['id']}"
    assert (await api.client.delete(path, headers=api.auth(read_only))).status_code == 403


async def test_concurrent_creates_of_one_name_make_one_project(api: Api) -> None:
    answers = await asyncio.gather(*(create(api, "Launch") for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5
    assert (await api.client.get("/api/v2/projects")).json()["total_count"] == 1


async def test_a_retried_create_with_its_idempotency_key_gets_the_first_project(api: Api) -> None:
    headers = {"Idempotency-Key": "create-launch-1"}
    first = await api.client.post("/api/v2/projects", json={"name": "Launch"}, headers=headers)
    again = await api.client.post("/api/v2/projects", json={"name": "Launch"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()


async def test_the_sdk_creates_lists_renames_and_deletes_projects(api: Api) -> None:
    # A tenant without a rate limit: list_all must page past 100 projects.
    key = (await api.services.keys.create_key("initech", tier="custom")).plaintext
    http = httpx.AsyncClient(transport=api.transport, base_url="http://testserver/api/v2")
    async with Scopix(api_key=key, retry_delay=0, http_client=http) as scopix:
        made = [await scopix.projects.create(f"Project {n:03d}") for n in range(105)]
        page = await scopix.projects.list(limit=5)
        assert [p.name for p in page.items] == [f"Project {n:03d}" for n in range(5)]
        assert (page.total_count, page.has_more) == (105, True)
        assert [p.id async for p in scopix.projects.list_all()] == [p.id for p in made]
        renamed = await scopix.projects.rename(made[0].id, "Archive")
        assert renamed.name == "Archive" and renamed.created_at == made[0].created_at
        with pytest.raises(ScopixError) as taken:
            await scopix.projects.create("archive")
        assert taken.value.code == "CONFLICT"
        await scopix.projects.delete(made[0].id)
        with pytest.raises(ResourceNotFoundError):
            await scopix.projects.get(made[0].id)
        assert (await scopix.projects.get(made[1].id)).name == "Project 001"
