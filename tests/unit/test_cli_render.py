"""The CLI's pure parts: JSON conversion, text helpers, tables, and how failures exit."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console, RenderableType
from typer.testing import CliRunner

from scopix.cli import client_commands, render
from scopix.cli.app import app
from scopix.cli.common import error_line, run_client
from scopix.errors import AuthenticationError, QuotaExceededError, ScopixError
from scopix.types.describe import DescriptionStatus
from scopix.types.documents import DocumentSearchHit, DocumentSearchResults
from scopix.types.files import FileDetails, FileList
from scopix.types.upload import BatchUploadResults, QuotaInfo, UploadResult

WHEN = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
DONE = UploadResult(
    image_id="01a2-done",
    filename="cat[1].png",
    description="A cat on a [bold]mat[/bold].",
    tags=["cat", "pet"],
    description_status=DescriptionStatus.COMPLETED,
    created_at=WHEN,
    status="completed",
)
REFUSED = UploadResult(
    image_id="",
    filename="broken.jpg",
    description_status=DescriptionStatus.FAILED,
    description_error="UNSUPPORTED_MEDIA_TYPE: not an image",
    status="failed",
)


def text_of(renderable: RenderableType, width: int = 200) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def test_jsonable_converts_dataclasses_enums_and_datetimes() -> None:
    details = FileDetails(
        id="f1",
        filename="a.png",
        created_at=WHEN,
        description_status=DescriptionStatus.QUEUED,
        tags=["x"],
    )
    data = render.jsonable(details)
    assert data["created_at"] == "2025-03-01T12:30:00+00:00"
    assert data["description_status"] == "queued"
    assert data["tags"] == ["x"]
    assert json.loads(render.dumps(FileList([details], 1, False, 20, 0)))["items"][0]["id"] == "f1"


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        (None, 10, "—"),
        ("", 10, "—"),
        ("short", 10, "short"),
        ("two\nlines  here", 20, "two lines here"),
        ("a long sentence indeed", 10, "a long se…"),
    ],
)
def test_shorten(text: str | None, width: int, expected: str) -> None:
    assert render.shorten(text, width) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [(None, "—"), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"), (5 << 20, "5.0 MB")],
)
def test_human_size(size: int | None, expected: str) -> None:
    assert render.human_size(size) == expected


def test_page_footer() -> None:
    items = [FileDetails(id=str(n), filename="f") for n in range(3)]
    assert render.page_footer(FileList(items, 10, True, 3, 3)) == "showing 4-6 of 10"
    assert render.page_footer(FileList([], 2, False, 20, 40)) == "showing 0 of 2"


def test_upload_table_shows_every_field_and_takes_names_literally() -> None:
    shown = text_of(render.upload_table([DONE, REFUSED]))
    for expected in ("cat[1].png", "01a2-done", "completed", "[bold]mat[/bold]", "cat, pet"):
        assert expected in shown
    assert "UNSUPPORTED_MEDIA_TYPE: not an image" in shown
    assert "failed" in shown


def test_narrow_upload_table_keeps_ids_whole() -> None:
    long_id = "01a224a2-4f79-75fd-bfda-6f2d9f7ab8d6"
    result = UploadResult(image_id=long_id, filename="astronaut.png", description="An image.")
    shown = text_of(render.upload_table([result], width=80), width=80)
    assert long_id in shown and "An image." in shown and "described: pending" in shown


def test_file_panel_lists_errors_only_when_there_are_some() -> None:
    fine = FileDetails(id="f1", filename="a.png", width=640, height=480, size_bytes=2048)
    shown = text_of(render.file_panel(fine))
    assert "640 × 480" in shown and "2.0 KB" in shown and "description error" not in shown
    broken = FileDetails(
        id="f2",
        filename="b.png",
        description_status=DescriptionStatus.FAILED,
        description_error="the model timed out",
        description_error_type="timeout",
        description_is_retryable=True,
    )
    shown = text_of(render.file_panel(broken))
    assert "the model timed out" in shown and "timeout" in shown and "yes" in shown


def test_file_panel_names_the_sources_of_a_described_file() -> None:
    provenance = {
        "description": {"analyzer": "ondevice:caption", "confidence": 0.82},
        "tags": [{"tag": "cat", "analyzer": "ondevice:tagger", "confidence": 0.9}],
        "key_elements": [],
        "visible_text": {"analyzer": "ondevice:ocr/tesseract", "confidence": 0.97},
        "embedding": {"analyzer": "ondevice:embedder/e5-small", "confidence": None},
        "pipeline": "abc123",
    }
    shown = text_of(
        render.file_panel(FileDetails(id="f1", filename="cat.png", provenance=provenance))
    )
    assert "description: ondevice:caption (82% sure)" in shown
    assert "text: ondevice:ocr/tesseract (97% sure)" in shown
    assert "embedding: ondevice:embedder/e5-small" in shown
    undescribed = text_of(render.file_panel(FileDetails(id="f2", filename="b.png")))
    assert "sources" not in undescribed


def test_quota_table() -> None:
    quota = QuotaInfo(True, 3, 7, 10, 3, max_batch_size=10)
    shown = text_of(render.quota_table(quota))
    assert "max batch size" in shown and "10" in shown and "message" in shown
    assert "storage" not in shown  # a server that does not count stored bytes


def test_quota_table_shows_storage_in_units() -> None:
    limited = QuotaInfo(True, 1, 7, 10, 3, storage_used_bytes=1536, storage_limit_bytes=1 << 30)
    shown = text_of(render.quota_table(dataclasses.replace(limited, storage_available_bytes=9)))
    assert "storage used" in shown and "1.5 KB" in shown and "1.0 GB" in shown
    unlimited = QuotaInfo(True, 1, 7, 10, 3, storage_used_bytes=0)
    assert text_of(render.quota_table(unlimited)).count("unlimited") == 2


def test_error_line_is_one_line_with_the_request_id() -> None:
    error = ScopixError("two\nlines", code="NOT_FOUND", request_id="req_1")
    assert error_line(error) == "error: NOT_FOUND: two lines (request req_1)"
    assert error_line(ScopixError("gone")) == "error: UNKNOWN: gone"


def exit_code(work: Any) -> int:
    with pytest.raises(typer.Exit) as raised:
        run_client("scopix_key", "http://127.0.0.1:9/api/v2", work)
    return raised.value.exit_code


def test_run_client_exits_with_the_work_status_or_one_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def fine(client: Any) -> int:
        return 0

    async def refused(client: Any) -> int:
        raise AuthenticationError("bad key", request_id="req_9")

    async def interrupted(client: Any) -> int:
        raise KeyboardInterrupt

    async def broken(client: Any) -> int:
        raise RuntimeError("boom\nagain")

    assert exit_code(fine) == 0
    assert exit_code(refused) == 1
    assert capsys.readouterr().err == "error: INVALID_API_KEY: bad key (request req_9)\n"
    assert exit_code(interrupted) == 130
    assert capsys.readouterr() == ("", "")
    assert exit_code(broken) == 1
    assert capsys.readouterr().err == "error: RuntimeError: boom again\n"


class QuotaStopFiles:
    async def upload_batch(self, *args: Any, **kwargs: Any) -> BatchUploadResults:
        raise QuotaExceededError("no credits left", partial_results=BatchUploadResults([DONE]))


class QuotaStopClient:
    files = QuotaStopFiles()


async def test_a_quota_stop_prints_the_partial_results_then_raises(
    capsys: pytest.CaptureFixture[str],
) -> None:
    request = client_commands.UploadRequest([], [], None, True, True, False, True, False)
    with pytest.raises(QuotaExceededError):
        await client_commands._upload(QuotaStopClient(), request, as_json=True)  # type: ignore[arg-type]
    printed = json.loads(capsys.readouterr().out)
    assert [r["image_id"] for r in printed] == ["01a2-done"]


def test_no_api_key_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCOPIX_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["ls"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: no API key: pass --api-key or set SCOPIX_API_KEY"
    ]


@pytest.mark.parametrize(
    ("pages", "shown"),
    [
        ([], "—"),
        ([4], "4"),
        ([1, 2, 3], "1-3"),
        ([7, 1, 2, 2], "1-2, 7"),
        ([1, 3, 4, 6], "1, 3-4, 6"),
    ],
)
def test_page_span_writes_runs_of_pages(pages: list[int], shown: str) -> None:
    assert render.page_span(pages) == shown


@given(
    content=st.text(st.characters(codec="utf-8"), max_size=400),
    query=st.text(max_size=20),
    width=st.integers(min_value=8, max_value=200),
)
def test_a_snippet_is_one_line_within_its_width(content: str, query: str, width: int) -> None:
    shown = render.snippet(content, query, width)
    assert len(shown) <= width and "\n" not in shown
    assert shown.strip("…") in " ".join(content.split()) or shown == render.NONE


def test_a_snippet_shows_the_query_s_words_in_a_long_passage() -> None:
    passage = "Filler words go here. " * 20 + "The pump must be primed first. " + "More. " * 30
    shown = render.snippet(passage, "PRIMED pump", 60)
    assert "The pump must be primed first." in shown
    assert shown.startswith("…") and shown.endswith("…")
    assert render.snippet("short text", "absent") == "short text"
    assert render.snippet(passage, "absent", 30).startswith("Filler words")


def test_chunk_hits_show_document_pages_score_and_passage() -> None:
    hit = DocumentSearchHit("c1", "d1-id", "report[1].pdf", "Revenue grew 4%.", 0.876, 2, [3, 4])
    results = DocumentSearchResults([hit], 7, True)
    shown = text_of(render.chunk_hits_table(results, "revenue"))
    for part in ("report[1].pdf", "d1-id", "3-4", "0.88", "Revenue grew 4%."):
        assert part in shown
    assert render.hits_footer(results) == "showing 1 of 7 passages"


def test_a_document_shows_its_pages_extraction_and_chunks_an_image_does_not() -> None:
    document = FileDetails(
        id="d1",
        filename="r.pdf",
        media_type="document",
        page_count=12,
        text_extraction_status="failed",
        text_extraction_error="the PDF is encrypted",
    )
    shown = text_of(render.file_panel(document))
    assert "pages" in shown and "12" in shown and "text extraction" in shown
    assert "failed" in shown and "the PDF is encrypted" in shown
    image = text_of(render.file_panel(FileDetails(id="i1", filename="a.png")))
    assert "pages" not in image and "text extraction" not in image


def test_get_shows_the_start_of_a_long_document_and_all_of_an_image_s_text() -> None:
    long_text = "Word " * 500
    document = FileDetails(id="d1", filename="r.pdf", page_count=9, visible_text=long_text)
    shown = text_of(render.file_panel(document))
    assert shown.count("Word") < 100 and "scopix text d1 prints all of it" in shown
    image = FileDetails(id="i1", filename="sign.png", visible_text=long_text)
    assert text_of(render.file_panel(image)).count("Word") == 500


def test_ls_adds_a_pages_column_only_when_documents_are_listed() -> None:
    image = FileDetails(id="i1", filename="a.png")
    assert "Pages" not in text_of(render.file_table([image]))
    both = text_of(render.file_table([image, FileDetails(id="d1", filename="r.pdf", page_count=5)]))
    assert "Pages" in both and " 5 " in both
