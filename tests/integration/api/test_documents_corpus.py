"""Real-world documents (tests/assets/documents: made by TeX, LibreOffice, Google Docs, a book
scanner's OCR and Word, not by our tests) through the API with the jobs run: the right page
counts, each page's text, chunks whose page numbers are right, and a chunk search that finds a
sentence from the middle of a page on that page. The ground truth beside each document was read
with PDFium and python-docx and checked by eye (SOURCES.md).

Embedding every chunk of the corpus costs minutes on two cores (about a second a chunk), so the
whole corpus runs without the on-device models (text search; these PDFs all have a text layer)
on SQLite and PostgreSQL, and hybrid search with the real embedder runs over the short
documents on SQLite."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from apiclient import Api, running_api
from scopix.server.settings import Settings

CORPUS = Path(__file__).resolve().parents[2] / "assets" / "documents"
FILES = "/api/v2/files"
SEARCH = "/api/v2/documents/search"
#: Documents short enough to embed in a test: hybrid search runs over these.
SHORT_PAGES = 6


@pytest.fixture
async def text_api(settings: Settings) -> AsyncIterator[Api]:
    """The app without on-device models (no embedder: chunks are found by their words), and a
    key of the custom tier, whose requests are not rate limited. A server needs an analyzer:
    it names a VLM that nothing here asks (no file is described)."""
    unused_vlm = {"vlm_base_url": "http://127.0.0.1:9/v1", "vlm_model": "unused"}
    async with running_api(settings.model_copy(update={"ondevice": False, **unused_vlm})) as api:
        await unlimited(api)
        yield api


async def unlimited(api: Api) -> None:
    key = await api.services.keys.create_key("corpus", tier="custom")
    api.client.headers["Authorization"] = f"Bearer {key.plaintext}"


@dataclass(frozen=True)
class Truth:
    name: str
    page_count: int
    page_snippets: dict[int, list[str]]
    probe_sentence: str
    probe_page: int
    raw: dict[str, Any]

    def read(self) -> bytes:
        return (CORPUS / self.name).read_bytes()


def corpus(suffix: str | None = None) -> list[Truth]:
    truths = []
    for truth_file in sorted(CORPUS.glob("*.truth.json")):
        stem = truth_file.name.removesuffix(".truth.json")
        (document,) = [p for p in CORPUS.glob(f"{stem}.*") if p != truth_file]
        if suffix is not None and document.suffix != suffix:
            continue
        raw = json.loads(truth_file.read_text())
        snippets = {int(page): list(texts) for page, texts in raw["page_snippets"].items()}
        truths.append(
            Truth(
                document.name,
                raw["page_count"],
                snippets,
                raw["probe_sentence"],
                raw["probe_page"],
                raw,
            )
        )
    return truths


def plain(text: str) -> str:
    """Text as the truth is compared: whitespace runs as one space, case folded (a scan's text
    layer writes small capitals as capitals, a text layer breaks lines where it likes)."""
    return re.sub(r"\s+", " ", text).strip().casefold()


async def upload(api: Api, truth: Truth) -> str:
    response = await api.client.post(
        f"{FILES}/upload",
        files={"file": (truth.name, truth.read())},
        data={"auto_describe": "false"},
    )
    assert response.status_code == 201, (truth.name, response.text)
    return str(response.json()["image_id"])


async def get_json(api: Api, url: str, **params: Any) -> Any:
    response = await api.client.get(url, params=params)
    assert response.status_code == 200, (url, response.text)
    return response.json()


async def all_chunks(api: Api, file_id: str) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = []
    while True:
        page = await get_json(api, f"{FILES}/{file_id}/chunks", limit=100, offset=len(chunks))
        chunks.extend(page["items"])
        if not page["has_more"]:
            return chunks


async def search(api: Api, query: str, mode: str) -> list[dict[str, Any]]:
    response = await api.client.post(SEARCH, json={"query": query, "search_mode": mode, "limit": 5})
    assert response.status_code == 200, (query, mode, response.text)
    return list(response.json()["items"])


async def check_document(
    api: Api, truth: Truth, file_id: str, modes: Sequence[str] = ("text",)
) -> list[str]:
    """What is wrong with one extracted document, as lines naming it (empty when it is right)."""
    problems: list[str] = []
    say = problems.append
    details = await get_json(api, f"{FILES}/{file_id}")
    if details["text_extraction_status"] != "completed":
        status = await get_json(api, f"{FILES}/{file_id}/status")
        return [f"{truth.name}: extraction {details['text_extraction_status']}: {status}"]
    if details["page_count"] != truth.page_count:
        say(f"{truth.name}: page_count {details['page_count']}, truth {truth.page_count}")

    text = await get_json(api, f"{FILES}/{file_id}/text")
    pages = {entry["page"]: plain(entry["text"]) for entry in text["pages"]}
    if sorted(pages) != list(range(1, truth.page_count + 1)):
        say(f"{truth.name}: /text pages {sorted(pages)}")
    for number, snippets in truth.page_snippets.items():
        for snippet in snippets:
            if plain(snippet) not in pages.get(number, ""):
                say(f"{truth.name}: page {number} lacks {snippet!r}")

    chunks = await all_chunks(api, file_id)
    if details["chunk_count"] != len(chunks) or not chunks:
        say(f"{truth.name}: chunk_count {details['chunk_count']}, {len(chunks)} listed")
    for chunk in chunks:
        numbers = chunk["page_numbers"]
        if not numbers or numbers != sorted(set(numbers)) or not set(numbers) <= set(pages):
            say(f"{truth.name}: chunk {chunk['chunk_index']} pages {numbers}")
            continue
        # A chunk's text comes from the pages it names: all of it, in their order.
        if plain(chunk["content"]) not in " ".join(pages[n] for n in numbers):
            say(f"{truth.name}: chunk {chunk['chunk_index']} is not from pages {numbers}")
    for number, snippets in truth.page_snippets.items():
        for snippet in snippets:
            holding = [c["page_numbers"] for c in chunks if plain(snippet) in plain(c["content"])]
            if not any(number in numbers for numbers in holding):
                say(f"{truth.name}: no chunk of page {number} holds {snippet!r} ({holding})")

    return problems + await check_search(api, truth, file_id, modes)


async def check_search(api: Api, truth: Truth, file_id: str, modes: Sequence[str]) -> list[str]:
    """The probe sentence, searched in each of `modes`: its chunk, on its page, comes first."""
    problems: list[str] = []
    say = problems.append
    for mode in modes:
        hits = await search(api, truth.probe_sentence, mode)
        first = hits[0] if hits else None
        if (
            first is None
            or first["document_id"] != file_id
            or truth.probe_page not in first["page_numbers"]
            or plain(truth.probe_sentence) not in plain(first["content"])
        ):
            found = [(h["document_filename"], h["page_numbers"]) for h in hits]
            say(f"{truth.name}: {mode} search for the probe gave {found}")
        elif first["document_filename"] != truth.name or not 0 <= first["score"] <= 1:
            say(f"{truth.name}: {mode} hit {first['document_filename']}, score {first['score']}")
    return problems


async def test_real_world_documents_read_right(text_api: Api) -> None:
    truths = corpus()
    ids = {truth.name: await upload(text_api, truth) for truth in truths}
    await text_api.drain()
    problems = [line for t in truths for line in await check_document(text_api, t, ids[t.name])]
    assert problems == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_hybrid_search_finds_a_sentence_on_its_page(api: Api) -> None:
    await unlimited(api)
    truths = [truth for truth in corpus() if truth.page_count <= SHORT_PAGES]
    ids = {truth.name: await upload(api, truth) for truth in truths}
    await api.drain()
    problems = [
        line
        for truth in truths
        for line in await check_search(api, truth, ids[truth.name], ("hybrid",))
    ]
    assert problems == []


async def test_docx_headings_paragraphs_and_tables_are_extracted(text_api: Api) -> None:
    api = text_api
    truths = corpus(".docx")
    ids = {truth.name: await upload(api, truth) for truth in truths}
    await api.drain("extract")
    for truth in truths:
        details = await get_json(api, f"{FILES}/{ids[truth.name]}")
        assert details["document_type"] == "docx"
        assert details["text_extraction_status"] == "completed", details
        text = (await get_json(api, f"{FILES}/{ids[truth.name]}/text"))["text"]
        lines = [plain(line) for line in text.splitlines() if line.strip()]
        for heading in truth.raw.get("headings", []):
            assert plain(heading) in lines, (truth.name, heading, lines)
        for paragraph in truth.raw.get("paragraphs", []):
            assert plain(paragraph) in lines, (truth.name, paragraph, lines)
        # A table row reads as one line, its cells in order.
        for row in truth.raw.get("table_rows", []):
            cells = r"\W+".join(re.escape(plain(cell)) for cell in row)
            assert any(re.search(rf"(^|\W){cells}($|\W)", line) for line in lines), (
                truth.name,
                row,
                lines,
            )
