"""The document handler on real documents, decoded in a real isolated pool: good documents give
their text, page by page with their boxes; hostile ones give the precise upload error or the
classified job failure, and the pool keeps serving after each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
import pytest_asyncio

import docfactory
from docfactory import DEFAULT_LIMITS as LIMITS
from scopix.server.domain.errors import CorruptFile, DocumentTooLarge, NotFound, ResourceLimit
from scopix.server.domain.media import DOCX_MIME, MARKDOWN_MIME, TEXT_MIME, media_of_mime
from scopix.server.domain.variants import PREVIEW_SIZES, VARIANT_SIZES
from scopix.server.isolation import IsolatedPool, IsolationLimits
from scopix.server.media.base import MediaFailed
from scopix.server.media.document import DocumentHandler
from scopix.types.describe import DescriptionErrorType

pytestmark = pytest.mark.asyncio(loop_scope="module")

MiB = 1 << 20
PDF = media_of_mime("application/pdf")
DOCX = media_of_mime(DOCX_MIME)
TXT = media_of_mime(TEXT_MIME)
MD = media_of_mime(MARKDOWN_MIME)
# The server's defaults but a tighter wall clock: a decode that hangs fails the test quickly.
ISOLATION = IsolationLimits(
    address_space_bytes=2048 * MiB, cpu_seconds=60, wall_seconds=60, scratch_bytes=256 * MiB
)
PAGES = [
    ["Quarterly report", "Revenue grew in every region.", "Costs fell by a tenth."],
    ["Outlook", "Next year we open two stores."],
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def handler() -> AsyncIterator[DocumentHandler]:
    pool = IsolatedPool(2, 1024 * MiB)
    yield DocumentHandler(pool, ISOLATION, LIMITS, None, anyio.CapacityLimiter(1))
    await pool.aclose()


def saved(tmp_path: Path, data: bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


async def still_serves(handler: DocumentHandler, tmp_path: Path) -> None:
    """The pool answers the next document as if nothing happened."""
    path = saved(tmp_path, docfactory.text_pdf([["still here"]]), "after.pdf")
    extracted = await handler.extract(path, PDF, path.stat().st_size)
    assert extracted.pages[0].text == "still here"


async def test_a_text_layer_pdf_gives_its_pages_lines_and_title(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, docfactory.text_pdf(PAGES, title="Report 2026"), "report.pdf")

    extracted = await handler.extract(path, PDF, path.stat().st_size)

    assert extracted.document_type == "pdf"
    assert extracted.title == "Report 2026"
    assert [page.number for page in extracted.pages] == [1, 2]
    for page, lines in zip(extracted.pages, PAGES, strict=True):
        assert page.method == "text_layer"
        assert page.text.splitlines() == lines
        assert [region.text for region in page.regions] == lines
        assert {region.page for region in page.regions} == {page.number}
        assert page.width / page.height == pytest.approx(595 / 842, rel=0.01)
    first, second = extracted.pages[0].regions[:2]
    # Set 72 pt from the left and the top of an A4 page, one line every 16 pt, y from the top.
    assert first.bbox.x == pytest.approx(72 / 595, abs=0.01)
    assert first.bbox.y + first.bbox.height == pytest.approx(72 / 842, abs=0.01)
    assert second.bbox.y - first.bbox.y == pytest.approx(16 / 842, abs=0.002)
    assert first.polygon[0] == (first.bbox.x, first.bbox.y)


async def test_a_pdf_without_a_real_title_is_named_by_its_first_line(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    for title in (None, "Binder1.pdf", "Microsoft Word - report.docx", "Untitled"):
        path = saved(tmp_path, docfactory.text_pdf(PAGES, title=title), "untitled.pdf")
        extracted = await handler.extract(path, PDF, path.stat().st_size)
        assert extracted.title == "Quarterly report", title


async def test_upload_probe_counts_pages_and_renders_page_one(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, docfactory.text_pdf(PAGES), "probe.pdf")

    probed = await handler.probe(path, PDF, PREVIEW_SIZES)

    assert probed.file_fields == {"page_count": 2}
    assert probed.rendered is not None
    assert set(probed.rendered.variants) == set(PREVIEW_SIZES)
    assert probed.rendered.variants["tiny_64"][8:12] == b"WEBP"
    assert probed.rendered.blur_hash


async def test_previews_render_every_variant_of_page_one(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    for media, data in [
        (PDF, docfactory.text_pdf(PAGES)),
        (DOCX, docfactory.docx_bytes(paragraphs=["Hello"])),
        (MD, docfactory.markdown_text()),
    ]:
        path = saved(tmp_path, data, f"previews.{media.extension}")
        rendered = await handler.previews(path, media, VARIANT_SIZES)
        assert set(rendered.variants) == set(VARIANT_SIZES)
        # The page's own size: a PDF's in points, the text card's (A4 at 150 dpi) for others.
        assert (rendered.width, rendered.height) == ((595, 842) if media is PDF else (1240, 1754))


async def test_a_page_renders_as_webp_and_a_missing_page_is_not_found(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, docfactory.text_pdf(PAGES), "pages.pdf")

    webp = await handler.render_page(path, PDF, 2, 512)

    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    with pytest.raises(NotFound):
        await handler.render_page(path, PDF, 3, 512)


async def test_describe_inputs_give_page_one_and_the_extraction(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, docfactory.text_pdf(PAGES, title="Report"), "describe.pdf")
    extracted = await handler.extract(path, PDF, path.stat().st_size)

    inputs = await handler.describe_inputs(path, PDF, 1024, extracted)
    bare = await handler.describe_inputs(path, PDF, 1024, None)

    assert inputs.image.height == 1024 and inputs.image.jpeg[:2] == b"\xff\xd8"
    assert inputs.title == "Report" and inputs.page_count == 2
    assert inputs.text is not None and inputs.text.startswith("Quarterly report")
    assert inputs.text.endswith("Next year we open two stores.")
    assert inputs.regions is not None and {r.page for r in inputs.regions} == {1, 2}
    assert inputs.facts["document_type"] == "pdf"
    assert bare.text is None and bare.regions is None


async def test_docx_headings_paragraphs_and_tables_in_document_order(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    data = docfactory.docx_bytes(
        headings=[(1, "Field notes"), (2, "Ferns")],
        paragraphs=["Ferns grow in shade.", "They spread by spores."],
        table=[["Species", "Height"], ["Bracken", "2 m"]],
    )
    path = saved(tmp_path, data, "notes.docx")

    extracted = await handler.extract(path, DOCX, path.stat().st_size)

    assert extracted.title == "Field notes"
    (page,) = extracted.pages
    assert (page.number, page.method, page.regions) == (1, "plain", ())
    assert page.text.split("\n\n") == [
        "Field notes",
        "Ferns",
        "Ferns grow in shade.",
        "They spread by spores.",
        "Species | Height",
        "Bracken | 2 m",
    ]


async def test_docx_title_comes_from_its_properties_first(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    data = docfactory.docx_bytes(title="Herbarium", headings=[(1, "Field notes")])
    path = saved(tmp_path, data, "titled.docx")
    assert (await handler.extract(path, DOCX, path.stat().st_size)).title == "Herbarium"


async def test_utf8_and_latin1_text_files_read_right(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    utf8 = "Ångström, naïve café, 東京, emoji 🙂\nsecond line\n".encode()
    for data, expected in [
        (utf8, utf8.decode()),
        (b"\xef\xbb\xbf" + utf8, utf8.decode()),
        (docfactory.latin1_text(), "\n".join(docfactory.LATIN1_SENTENCES) + "\n"),
    ]:
        path = saved(tmp_path, data, "text.txt")
        extracted = await handler.extract(path, TXT, len(data))
        assert extracted.pages[0].text == expected
        assert extracted.title == expected.splitlines()[0]


async def test_markdown_becomes_plain_text(handler: DocumentHandler, tmp_path: Path) -> None:
    path = saved(tmp_path, docfactory.markdown_text(), "ferns.md")

    extracted = await handler.extract(path, MD, path.stat().st_size)

    assert extracted.title == "Field guide to ferns"
    assert extracted.pages[0].text.split("\n\n") == [
        "Field guide to ferns",
        "Ferns are vascular plants that reproduce by spores. See the fern society for more.",
        "Where they grow",
        "shaded forest floors",
        "rock crevices and old walls",
        "spores: 1,000,000 per frond",
        "Patience is a fern's virtue.",
    ]


# ---- hostile documents ----------------------------------------------------------------------


async def test_a_pdf_stream_bomb_is_refused_at_upload_and_fails_its_extraction(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, docfactory.bomb_pdf(), "bomb.pdf")

    with pytest.raises(ResourceLimit, match="decompression bomb"):
        await handler.probe(path, PDF, PREVIEW_SIZES)
    with pytest.raises(MediaFailed) as failed:
        await handler.extract(path, PDF, path.stat().st_size)

    assert failed.value.failure.error_type is DescriptionErrorType.RESOURCE_LIMIT
    await still_serves(handler, tmp_path)


async def test_a_pdf_declaring_100000_pages_is_too_large(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, docfactory.page_count_lie_pdf(100_000), "pages.pdf")

    with pytest.raises(DocumentTooLarge, match="100,000"):
        await handler.probe(path, PDF, PREVIEW_SIZES)
    with pytest.raises(MediaFailed) as failed:
        await handler.extract(path, PDF, path.stat().st_size)

    assert failed.value.failure.error_type is DescriptionErrorType.RESOURCE_LIMIT
    await still_serves(handler, tmp_path)


async def test_an_encrypted_pdf_is_kept_and_its_extraction_says_so(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, docfactory.encrypted_pdf(), "secret.pdf")

    probed = await handler.probe(path, PDF, PREVIEW_SIZES)
    with pytest.raises(MediaFailed) as extracting:
        await handler.extract(path, PDF, path.stat().st_size)
    with pytest.raises(MediaFailed) as previewing:
        await handler.previews(path, PDF, VARIANT_SIZES)

    assert (probed.file_fields, probed.rendered) == ({"page_count": None}, None)
    for failed in (extracting, previewing):
        assert failed.value.failure.error_type is DescriptionErrorType.VALIDATION_ERROR
        assert "the PDF is encrypted" in failed.value.failure.message


async def test_a_pdf_encrypted_only_against_editing_is_read(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, docfactory.encrypted_pdf("", text="open to readers"), "owner.pdf")

    extracted = await handler.extract(path, PDF, path.stat().st_size)

    assert extracted.pages[0].text == "open to readers"


async def test_a_truncated_pdf_is_corrupt(handler: DocumentHandler, tmp_path: Path) -> None:
    path = saved(tmp_path, docfactory.truncated_pdf(), "cut.pdf")

    with pytest.raises(CorruptFile):
        await handler.probe(path, PDF, PREVIEW_SIZES)
    with pytest.raises(MediaFailed) as failed:
        await handler.extract(path, PDF, path.stat().st_size)

    assert failed.value.failure.error_type is DescriptionErrorType.VALIDATION_ERROR
    await still_serves(handler, tmp_path)


@pytest.mark.parametrize(
    ("make", "refusal", "error_type"),
    [
        (lambda: docfactory.docx_declaring(docfactory.GIB), DocumentTooLarge, "resource_limit"),
        (
            lambda: docfactory.docx_declaring(100, members=10_001),
            DocumentTooLarge,
            "resource_limit",
        ),
        (lambda: docfactory.docx_inflating_past(docfactory.GIB), ResourceLimit, "resource_limit"),
        (docfactory.plain_zip, CorruptFile, "validation"),
        (lambda: docfactory.text_pdf([["not a zip"]]), CorruptFile, "validation"),
    ],
    ids=["declares-a-gib", "too-many-members", "inflates-past-its-sizes", "plain-zip", "not-zip"],
)
async def test_hostile_docx_files_are_refused_before_python_docx_opens_them(
    handler: DocumentHandler,
    tmp_path: Path,
    make: object,
    refusal: type[Exception],
    error_type: str,
) -> None:
    path = saved(tmp_path, make(), "hostile.docx")  # type: ignore[operator]

    with pytest.raises(refusal):
        await handler.probe(path, DOCX, PREVIEW_SIZES)
    with pytest.raises(MediaFailed) as failed:
        await handler.extract(path, DOCX, path.stat().st_size)

    assert failed.value.failure.error_type.value == error_type
    await still_serves(handler, tmp_path)


async def test_a_binary_text_file_fails_as_validation(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, docfactory.binary_text(), "binary.txt")

    with pytest.raises(MediaFailed) as failed:
        await handler.extract(path, TXT, path.stat().st_size)

    assert failed.value.failure.error_type is DescriptionErrorType.VALIDATION_ERROR
    assert "binary" in failed.value.failure.message


async def test_a_document_over_the_extract_limit_is_stored_but_not_extracted(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, docfactory.text_pdf(PAGES), "huge.pdf")
    size = LIMITS.max_extract_bytes + 1

    with pytest.raises(MediaFailed) as failed:
        await handler.extract(path, PDF, size)

    assert not handler.probes(size) and handler.probes(LIMITS.max_extract_bytes)
    assert failed.value.failure.error_type is DescriptionErrorType.RESOURCE_LIMIT
    assert "its text was not extracted" in failed.value.failure.message
