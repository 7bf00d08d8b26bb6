"""A document through the description pipeline: the real on-device models and a VLM over HTTP
see its first page and what extraction read, and the merged description keeps that text."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pyvips

from scopix.server.domain.regions import BoundingBox, TextRegion
from scopix.server.imaging.analysis import decode_for_analysis
from scopix.server.media.base import DescribeInputs
from scopix.server.vision.base import DecodedImage
from scopix.server.vision.ondevice import OnDeviceAnalyzer
from scopix.server.vision.pipeline import DescriptionPipeline
from scopix.server.vision.remote import OpenAICompatibleAnalyzer
from scopix.server.vision.remote.openai_compat import DOCUMENT_TEXT_CHARS, USER_PROMPT
from vlmserver import FakeVLMServer

TITLE = "Quarterly report"
PAGE_ONE = "Quarterly report\nRevenue grew 12 % in the third quarter.\nCosts fell by a fifth."
PAGE_TWO = "Outlook\n" + " ".join(["Orders keep arriving from every region."] * 80)
TEXT = PAGE_ONE + "\n\n" + PAGE_TWO


def line(text: str, page: int, y: float) -> TextRegion:
    box = BoundingBox(0.1, y, 0.6, 0.04)
    polygon = ((0.1, y), (0.7, y), (0.7, y + 0.04), (0.1, y + 0.04))
    return TextRegion(text, 1.0, box, polygon, page=page)


REGIONS = (
    *(line(text, 1, 0.1 + 0.05 * n) for n, text in enumerate(PAGE_ONE.splitlines())),
    line("Outlook", 2, 0.1),
)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> DecodedImage:
    """Page 1 as the document handler renders it: black text on a white A6 page at 100 dpi."""
    ink = pyvips.Image.black(413, 583)
    for n, text in enumerate(PAGE_ONE.splitlines()):
        ink = ink.insert(pyvips.Image.text(text, font="sans 12", width=360), 30, 40 + 40 * n)
    path = tmp_path_factory.mktemp("page") / "page-1.png"
    (255 - ink).cast("uchar").write_to_file(str(path))
    return decode_for_analysis(path)


@pytest.fixture(scope="module")
def ondevice() -> OnDeviceAnalyzer:
    analyzer = OnDeviceAnalyzer(threads=2)
    analyzer.load()
    return analyzer


def document_inputs(page: DecodedImage) -> DescribeInputs:
    return DescribeInputs(
        page, TEXT, TITLE, page_count=2, regions=REGIONS, facts={"document_type": "pdf"}
    )


async def test_on_device_a_document_is_described_from_its_extraction(
    ondevice: OnDeviceAnalyzer, page: DecodedImage
) -> None:
    described = await DescriptionPipeline([ondevice], None).describe(document_inputs(page))
    merged = described.merged
    assert merged.description == (
        '"Quarterly report", a PDF document of 2 pages. '
        'It begins: "Revenue grew 12 % in the third quarter."'
    )
    assert merged.visible_text == TEXT
    assert merged.text_regions == REGIONS
    assert {r.page for r in merged.text_regions} == {1, 2}
    assert merged.tags[:2] == ("document", "pdf") and "text" in merged.tags
    assert merged.key_elements[0] == "document"
    # Extraction read every page: the page is tagged, never OCR'd again.
    assert "tags" in merged.timings_ms and "ocr" not in merged.timings_ms
    assert merged.image_features is not None


async def test_on_device_a_document_without_extraction_has_its_page_read(
    ondevice: OnDeviceAnalyzer, page: DecodedImage
) -> None:
    inputs = DescribeInputs(page, title=TITLE, page_count=2, facts={"document_type": "pdf"})
    merged = (await DescriptionPipeline([ondevice], None).describe(inputs)).merged
    assert merged.description.startswith(
        '"Quarterly report", a PDF document of 2 pages. It begins: "Revenue grew'
    )
    assert merged.visible_text is not None and "Costs fell" in merged.visible_text
    assert merged.text_regions and all(r.page is None for r in merged.text_regions)
    assert merged.tags[:2] == ("document", "pdf")
    assert "ocr" in merged.timings_ms


@pytest.fixture
async def vlm_pipeline() -> AsyncIterator[tuple[FakeVLMServer, DescriptionPipeline]]:
    with FakeVLMServer() as vlm:
        async with OpenAICompatibleAnalyzer(vlm.base_url, vlm.model, timeout=10) as analyzer:
            yield vlm, DescriptionPipeline([analyzer], None)


async def test_a_vlm_sees_the_first_page_and_reads_the_first_text_in_its_prompt(
    vlm_pipeline: tuple[FakeVLMServer, DescriptionPipeline], page: DecodedImage
) -> None:
    vlm, pipeline = vlm_pipeline
    vlm.behave("ok", description="A quarterly financial report.", visible_text="Quarterly")
    merged = (await pipeline.describe(document_inputs(page))).merged

    [request] = vlm.requests
    assert request.image == page.jpeg
    prompt = request.messages[1]["content"][0]["text"]
    assert f'a PDF document titled "{TITLE}" of 2 pages' in prompt
    fenced = prompt.split("<document>\n")[1].split("\n</document>")[0]
    assert fenced.startswith(PAGE_ONE) and "Orders keep arriving" in fenced
    assert len(fenced) <= DOCUMENT_TEXT_CHARS < len(TEXT)

    assert merged.description == "A quarterly financial report."
    assert merged.visible_text == TEXT  # the document's, not what the VLM read on page 1
    assert merged.text_regions == REGIONS
    assert merged.tags[:2] == ("document", "pdf")


async def test_a_vlm_asked_about_an_image_gets_the_image_prompt(
    vlm_pipeline: tuple[FakeVLMServer, DescriptionPipeline], page: DecodedImage
) -> None:
    vlm, pipeline = vlm_pipeline
    merged = (await pipeline.describe(DescribeInputs(page))).merged
    [request] = vlm.requests
    assert request.messages[1]["content"][0]["text"] == USER_PROMPT
    assert "document" not in merged.tags
