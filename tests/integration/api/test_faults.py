"""Failures inside the server: nothing half-visible, originals kept, the server keeps serving."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from apiclient import Api, stored_files
from imagefactory import jpeg_bytes
from scopix.server.catalog.models import File
from scopix.server.catalog.uow import UnitOfWork

UPLOAD = "/api/v2/files/upload"


async def test_a_variant_failure_keeps_the_original(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(final: object, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    # Every variant, the upload's preview included, is written whole through this step.
    monkeypatch.setattr(api.services.store, "_write_whole", disk_full)
    data = jpeg_bytes(500, 400, seed=21)
    response = await api.client.post(UPLOAD, files={"file": ("p.jpg", data)})

    assert response.status_code == 201
    file_id = response.json()["image_id"]
    assert response.json()["thumbnail_url"] is None
    assert await api.drain("variants") == 3  # a full disk is retried, then given up on
    details = (await api.client.get(f"/api/v2/files/{file_id}")).json()
    assert "No space left" in details["variant_error"]
    assert list(details["variants"]) == ["original"]
    assert details["processing_history"][-1]["event"] == "variants_failed"
    assert (await api.client.get(f"/api/v2/files/{file_id}/download")).content == data
    missing = await api.client.get(f"/api/v2/files/{file_id}/variant/small_256")
    assert missing.status_code == 404


async def test_a_crash_before_commit_leaves_nothing_visible(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = UnitOfWork.commit

    async def crash(self: UnitOfWork) -> None:
        if await self.session.scalar(select(func.count()).select_from(File)):  # written here
            raise RuntimeError("power cut")
        await commit(self)  # the storage reservation before the upload's own, and its release

    monkeypatch.setattr(UnitOfWork, "commit", crash)
    data = jpeg_bytes(300, 200)
    response = await api.client.post(UPLOAD, files={"file": ("p.jpg", data)})
    monkeypatch.undo()

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "Traceback" not in response.text
    assert (await api.client.get("/api/v2/files")).json()["total_count"] == 0
    api.services.maintenance.grace_seconds = -1  # everything is old enough to sweep now
    report = await api.services.maintenance.sweep()
    assert report.orphan_blobs == 1
    assert stored_files(api) == []
    again = await api.client.post(UPLOAD, files={"file": ("p.jpg", data)})
    assert again.status_code == 201
    assert again.json()["deduplicated"] is False
    quota = (await api.client.get("/api/v2/uploads/quota-check")).json()
    assert quota["storage_used_bytes"] == len(data)  # the crashed upload gave its room back


async def test_storage_failure_on_the_original_is_503_and_stores_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(staged: object, key: str, beside: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(api.services.store, "promote", broken)
    response = await api.client.post(UPLOAD, files={"file": ("p.jpg", jpeg_bytes(300, 200))})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UNAVAILABLE"
    assert (await api.client.get("/api/v2/files")).json()["total_count"] == 0
    staging = api.services.settings.resolved_storage_dir / ".staging"
    assert list(staging.iterdir()) == []
