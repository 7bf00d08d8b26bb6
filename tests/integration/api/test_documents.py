"""Documents through the API with the jobs run, on SQLite and PostgreSQL: extraction status,
text by page, chunks, page renders, chunk search, file search by a document's text, and the
walls around them (other tenants, other kinds, text not read yet or unreadable)."""

from __future__ import annotations

from typing import Any

from apiclient import Api
from docfactory import encrypted_pdf, text_pdf
from imagefactory import png_bytes

FILES = "/api/v2/files"
SEARCH = "/api/v2/documents/search"

FIRST_PAGE = ["Harbour operations manual.", "", "Every vessel is logged by the harbour master."]
SECOND_PAGE = [
    "Quarterly revenue grew by twelve percent in the northern region.",
    "The lighthouse keeper records the tides at dawn.",
]


async def upload(api: Api, name: str, data: bytes, **fields: str) -> dict[str, Any]:
    response = await api.client.post(
        f"{FILES}/upload", files={"file": (name, data)}, data={"auto_describe": "false", **fields}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def get(api: Api, url: str, status: int = 200, **params: Any) -> Any:
    response = await api.client.get(url, params=params)
    assert response.status_code == status, (url, response.text)
    return response.json() if "json" in response.headers.get("content-type", "") else response


async def search(api: Api, query: str, **body: Any) -> dict[str, Any]:
    response = await api.client.post(SEARCH, json={"query": query, **body})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_pdf_is_read_page_by_page_chunked_and_found(api: Api) -> None:
    pdf = text_pdf([FIRST_PAGE, SECOND_PAGE], title="Harbour report")
    file_id = (await upload(api, "harbour.pdf", pdf))["image_id"]
    details = await get(api, f"{FILES}/{file_id}")
    assert (details["document_type"], details["text_extraction_status"]) == ("pdf", "pending")
    early = await get(api, f"{FILES}/{file_id}/text", status=409)
    assert early["error"]["details"]["text_extraction_status"] == "pending"

    await api.drain()
    details = await get(api, f"{FILES}/{file_id}")
    assert (details["text_extraction_status"], details["page_count"]) == ("completed", 2)
    assert details["chunk_count"] >= 1 and details["text_extraction_error"] is None
    status = await get(api, f"{FILES}/{file_id}/status")
    assert (status["text_extraction_status"], status["text_extraction_error_type"]) == (
        "completed",
        None,
    )
    text = await get(api, f"{FILES}/{file_id}/text")
    assert [p["page"] for p in text["pages"]] == [1, 2]
    assert "harbour master" in text["pages"][0]["text"]
    assert "lighthouse keeper" in text["pages"][1]["text"] and "lighthouse" in text["text"]

    chunks = await get(api, f"{FILES}/{file_id}/chunks", limit=1)
    assert chunks["total_count"] == details["chunk_count"]
    assert chunks["items"][0]["chunk_index"] == 0 and chunks["items"][0]["page_numbers"] == [1, 2]

    for mode in ("text", "hybrid", "semantic"):
        found = await search(api, "lighthouse keeper tides", search_mode=mode)
        hit = found["items"][0]
        assert (hit["document_id"], hit["document_filename"]) == (file_id, "harbour.pdf"), mode
        assert 2 in hit["page_numbers"] and 0 <= hit["score"] <= 1
    assert (await search(api, "submarine", search_mode="text"))["items"] == []

    listed = await get(api, FILES, search="lighthouse")
    assert [f["id"] for f in listed["items"]] == [file_id]

    page = await get(api, f"{FILES}/{file_id}/pages/2", size=300)
    assert page.headers["content-type"] == "image/webp" and page.content[8:12] == b"WEBP"
    await get(api, f"{FILES}/{file_id}/pages/3", status=404)
    await get(api, f"{FILES}/{file_id}/pages/0", status=422)
    await get(api, f"{FILES}/{file_id}/pages/1", status=422, size=4096)


async def test_document_routes_keep_to_documents_and_to_their_tenant(api: Api) -> None:
    image_id = (await upload(api, "photo.png", png_bytes(64, 48)))["image_id"]
    doc_id = (await upload(api, "notes.txt", b"Meeting notes about the lighthouse budget.\n"))[
        "image_id"
    ]
    locked_id = (await upload(api, "locked.pdf", encrypted_pdf()))["image_id"]
    await api.drain()

    # An encrypted PDF is kept; its extraction fails as `validation`, and says so.
    status = await get(api, f"{FILES}/{locked_id}/status")
    assert status["text_extraction_status"] == "failed"
    assert status["text_extraction_error_type"] == "validation", status
    assert "encrypted" in status["text_extraction_error"]
    refused = await get(api, f"{FILES}/{locked_id}/text", status=409)
    assert refused["error"]["details"]["text_extraction_error_type"] == "validation"
    assert (await get(api, f"{FILES}/{locked_id}/chunks"))["total_count"] == 0

    for route in ("text", "chunks", "pages/1"):
        refused = await get(api, f"{FILES}/{image_id}/{route}", status=400)
        assert refused["error"]["code"] == "WRONG_MEDIA_TYPE"
    image = await get(api, f"{FILES}/{image_id}")
    assert image["text_extraction_status"] is None and image["page_count"] is None

    other = api.auth(api.other_key)
    for route in ("text", "chunks", "pages/1"):
        response = await api.client.get(f"{FILES}/{doc_id}/{route}", headers=other)
        assert response.status_code == 404, response.text
    response = await api.client.post(
        SEARCH, json={"query": "lighthouse", "search_mode": "text"}, headers=other
    )
    assert response.json()["items"] == []
    mine = await search(api, "lighthouse", search_mode="text", file_ids=[doc_id])
    assert [h["document_id"] for h in mine["items"]] == [doc_id]
    elsewhere = await search(api, "lighthouse", search_mode="text", file_ids=[image_id])
    assert elsewhere["items"] == []

    await api.client.delete(f"{FILES}/{doc_id}")
    assert (await search(api, "lighthouse", search_mode="text"))["items"] == []

    stranger = {"Authorization": "Bearer scopix_nope1234_" + "x" * 40}
    response = await api.client.post(SEARCH, json={"query": "lighthouse"}, headers=stranger)
    assert response.status_code == 401, response.text
    # Query syntax of either database is only words here.
    for query in ('NEAR("lighthouse" AND', "lighthouse*", "-budget OR ^x", "!!! ??"):
        assert (await search(api, query, search_mode="text"))["total_count"] in (0, 1), query
    for body in ({"query": ""}, {"query": "x", "limit": 51}, {"query": "x", "search_mode": "x"}):
        response = await api.client.post(SEARCH, json=body)
        assert response.status_code == 422, (body, response.text)
