"""Every bad input gets its precise 4xx, the server keeps serving, and nothing stored changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apiclient import Api, stored_files
from imagefactory import (
    elf_bytes,
    jpeg_bytes,
    png_declaring,
    svg_bytes,
    truncated,
    zip_bytes,
)

UPLOAD = "/api/v2/files/upload"
GOOD = jpeg_bytes(400, 300, seed=11)


async def snapshot(api: Api) -> tuple[list[str], list[str]]:
    """Everything a failed request must leave untouched: the catalog's files and the blob tree."""
    listing = (await api.client.get("/api/v2/files", params={"limit": 100})).json()
    return sorted(i["id"] for i in listing["items"]), stored_files(api)


def corrupt_jpeg() -> bytes:
    data = bytearray(jpeg_bytes(400, 300, seed=12))
    data[600:4000] = bytes(range(256)) * 13 + bytes(72)
    return bytes(data)


BAD_FILES: list[tuple[str, Callable[[], bytes], str, int, str]] = [
    ("zero bytes", lambda: b"", "empty.jpg", 422, "EMPTY_FILE"),
    (
        "truncated jpeg",
        lambda: truncated(jpeg_bytes(800, 600), 0.5),
        "cut.jpg",
        422,
        "CORRUPT_FILE",
    ),
    ("corrupt jpeg", corrupt_jpeg, "bad.jpg", 422, "CORRUPT_FILE"),
    ("zip renamed", zip_bytes, "photo.jpg", 422, "UNSUPPORTED_MEDIA_TYPE"),
    ("executable renamed", elf_bytes, "photo.jpg", 422, "UNSUPPORTED_MEDIA_TYPE"),
    ("svg", svg_bytes, "drawing.svg", 422, "UNSUPPORTED_MEDIA_TYPE"),
    ("50k x 50k png", lambda: png_declaring(50_000, 50_000), "huge.png", 422, "IMAGE_TOO_LARGE"),
    ("path in filename", lambda: GOOD, "../../etc/passwd.jpg", 422, "VALIDATION_ERROR"),
    ("control characters", lambda: GOOD, "a\x07b\x1b.jpg", 422, "VALIDATION_ERROR"),
]


@pytest.mark.parametrize(
    ("data", "filename", "status", "code"),
    [pytest.param(d, f, s, c, id=i) for i, d, f, s, c in BAD_FILES],
)
async def test_bad_files_are_refused_and_change_nothing(
    api: Api, data: Callable[[], bytes], filename: str, status: int, code: str
) -> None:
    await api.client.post(UPLOAD, files={"file": ("keep.jpg", GOOD)})
    before = await snapshot(api)

    response = await api.client.post(UPLOAD, files={"file": (filename, data(), "image/jpeg")})

    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert await snapshot(api) == before
    after = await api.client.post(UPLOAD, files={"file": ("next.jpg", jpeg_bytes(90, 90))})
    assert after.status_code == 201


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"tags": ",".join(f"t{i}" for i in range(41))}, "tags"),
        ({"tags": "x" * 51}, "tags"),
        ({"title": "t" * 256}, "title"),
        ({"title": "bell\x07"}, "title"),
        ({"auto_describe": "maybe"}, "auto_describe"),
        ({"content_category": "selfies"}, "content_category"),
    ],
)
async def test_bad_fields_are_refused(api: Api, fields: dict[str, str], field: str) -> None:
    before = await snapshot(api)
    response = await api.client.post(UPLOAD, files={"file": ("ok.jpg", GOOD)}, data=fields)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["details"]["field"] == field
    assert await snapshot(api) == before


async def test_forty_tags_and_255_characters_are_fine(api: Api) -> None:
    fields = {"tags": ",".join(f"t{i}" for i in range(40)), "title": "t" * 255}
    response = await api.client.post(UPLOAD, files={"file": ("ok.jpg", GOOD)}, data=fields)
    assert response.status_code == 201
    assert len(response.json()["tags"]) == 40


async def test_missing_file_field(api: Api) -> None:
    response = await api.client.post(UPLOAD, files={"photo": ("ok.jpg", GOOD)})
    assert response.status_code == 422
    response = await api.client.post(UPLOAD, data={"title": "no file"}, files={})
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    response = await api.client.post(
        UPLOAD,
        content=b'--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nhi\r\n--x--\r\n',
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "file"


async def test_not_multipart_is_a_bad_request(api: Api) -> None:
    response = await api.client.post(UPLOAD, json={"file": "nope"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_broken_multipart_body_leaves_no_staging_file(api: Api) -> None:
    body = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        + GOOD[:5000]
    )
    response = await api.client.post(
        UPLOAD, content=body, headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert response.status_code == 400
    staging = api.services.settings.resolved_storage_dir / ".staging"
    assert list(staging.iterdir()) == []


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer nonsense",
        "Basic dXNlcjpwYXNz",
        "Bearer scopix_abcdefgh_" + "A" * 43,
    ],
)
async def test_bad_api_keys_get_401(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    del api.client.headers["Authorization"]
    response = await api.client.post(UPLOAD, files={"file": ("ok.jpg", GOOD)}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_API_KEY"
    assert (await api.client.get("/api/v2/files", headers=headers)).status_code == 401


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
async def test_the_bearer_scheme_is_case_insensitive(api: Api, scheme: str) -> None:
    response = await api.client.get(
        "/api/v2/files", headers={"Authorization": f"{scheme} {api.key}"}
    )
    assert response.status_code == 200


async def test_a_real_key_with_a_wrong_secret_gets_401(api: Api) -> None:
    forged = api.key[:15] + "_" + "B" * 43
    response = await api.client.get("/api/v2/files", headers=api.auth(forged))
    assert response.status_code == 401


async def test_other_tenants_files_do_not_exist_for_me(api: Api) -> None:
    theirs = (
        await api.client.post(
            UPLOAD, files={"file": ("secret.jpg", GOOD)}, headers=api.auth(api.other_key)
        )
    ).json()["image_id"]
    for method, path, kwargs in [
        ("GET", f"/api/v2/files/{theirs}", {}),
        ("PATCH", f"/api/v2/files/{theirs}", {"json": {"title": "mine now"}}),
        ("DELETE", f"/api/v2/files/{theirs}", {}),
        ("GET", f"/api/v2/files/{theirs}/variant/small_256", {}),
        ("GET", f"/api/v2/files/{theirs}/download", {}),
    ]:
        response = await api.client.request(method, path, **kwargs)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "NOT_FOUND"
    deleted = await api.client.post("/api/v2/files/batch-delete", json={"file_ids": [theirs]})
    assert deleted.json()["deleted"] == []
    assert (await api.client.get("/api/v2/files")).json()["total_count"] == 0
    still = await api.client.get(f"/api/v2/files/{theirs}", headers=api.auth(api.other_key))
    assert still.status_code == 200
    assert still.json()["title"] is None
