"""Where each part of a description came from (pure rules), through the merge and the pipeline."""

from __future__ import annotations

import numpy as np

from scopix.server.domain.regions import BoundingBox, TextRegion
from scopix.server.media.base import DescribeInputs
from scopix.server.vision.base import (
    Analysis,
    DecodedImage,
    DocumentContext,
    Face,
    SceneContext,
    Tag,
)
from scopix.server.vision.merge import SceneAnalysis, merge, merge_scenes
from scopix.server.vision.pipeline import DescriptionPipeline


def region(text: str, confidence: float) -> TextRegion:
    return TextRegion(text, confidence, BoundingBox(0.1, 0.1, 0.2, 0.05), ())


def ondevice(
    description: str = "A cat.",
    tags: tuple[Tag, ...] = (Tag("cat", 0.91, "ondevice:tagger"),),
    regions: tuple[TextRegion, ...] = (),
    **fields: object,
) -> Analysis:
    text = "\n".join(r.text for r in regions) or None
    return Analysis(
        "ondevice",
        description=description,
        tags=tags,
        key_elements=("cat",),
        visible_text=text,
        text_regions=regions,
        description_source="ondevice:caption",
        text_source="ondevice:ocr/rapidocr" if text else None,
        **fields,  # type: ignore[arg-type]
    )


VLM = Analysis(
    "vlm:llava",
    description="A tabby cat beside a sign that says OPEN.",
    tags=(Tag("tabby", source="vlm:llava"), Tag("Cat", source="vlm:llava")),
    key_elements=("sign",),
    visible_text="0PEN",
    description_source="vlm:llava",
    text_source="vlm:llava",
)


def test_each_part_names_the_analyzer_that_gave_it_and_how_sure_it_was() -> None:
    local = ondevice(
        tags=(Tag("cat", 0.91, "ondevice:tagger"), Tag("text", 1.0, "ondevice:ocr/rapidocr")),
        regions=(region("OPEN", 0.9), region("24/7", 0.7)),
    )
    provenance = merge([VLM, local]).provenance
    # The VLM described it, with no score to give; its tags come first, "cat" once.
    assert provenance["description"] == {"analyzer": "vlm:llava", "confidence": None}
    assert provenance["tags"] == [
        {"tag": "tabby", "analyzer": "vlm:llava", "confidence": None},
        {"tag": "Cat", "analyzer": "vlm:llava", "confidence": None},
        {"tag": "text", "analyzer": "ondevice:ocr/rapidocr", "confidence": 1.0},
    ]
    assert provenance["key_elements"] == [
        {"element": "sign", "analyzer": "vlm:llava"},
        {"element": "cat", "analyzer": "ondevice:caption"},
    ]
    # Located text beats text the VLM only read; as sure as its regions on average.
    assert provenance["visible_text"] == {"analyzer": "ondevice:ocr/rapidocr", "confidence": 0.8}
    only_vlm = merge([VLM]).provenance
    assert only_vlm["visible_text"] == {"analyzer": "vlm:llava", "confidence": None}


def test_a_caption_is_as_sure_as_what_it_saw_or_else_as_the_text_it_quotes() -> None:
    seen = ondevice(
        tags=(Tag("cat", 0.62, "ondevice:tagger"), Tag("text", 1.0, "ondevice:ocr/rapidocr")),
        regions=(region("OPEN", 0.9),),
    )
    assert merge([seen]).provenance["description"] == {
        "analyzer": "ondevice:caption",
        "confidence": 0.62,
    }
    quoted = ondevice('An image with the text "80".', tags=(), regions=(region("80", 0.68),))
    assert merge([quoted]).provenance["description"]["confidence"] == 0.68
    said = ondevice(description_confidence=0.5)
    assert merge([said]).provenance["description"]["confidence"] == 0.5
    nothing = merge([Analysis("ondevice", image_features=b"\0" * 8)]).provenance
    assert nothing["description"] is None and nothing["visible_text"] is None


def test_a_document_s_tags_and_text_come_from_its_extraction() -> None:
    lines = (region("Invoice 2041", 1.0), region("Total 120 EUR", 0.8))
    document = DocumentContext(
        text="Invoice 2041\nTotal 120 EUR", regions=lines, document_type="pdf"
    )
    page = ondevice("A PDF document: Invoice 2041.", tags=(Tag("document", 1.0, "extraction"),))
    provenance = merge([page], document).provenance
    assert provenance["tags"][:2] == [
        {"tag": "document", "analyzer": "extraction", "confidence": 1.0},
        {"tag": "pdf", "analyzer": "extraction", "confidence": 1.0},
    ]
    assert provenance["visible_text"] == {"analyzer": "extraction", "confidence": 0.9}
    # A caption from the document's facts, with nothing seen in the picture: no score.
    assert provenance["description"] == {"analyzer": "ondevice:caption", "confidence": None}
    plain = DocumentContext(text="just text", document_type="txt")
    assert merge([page], plain).provenance["visible_text"] == {
        "analyzer": "extraction",
        "confidence": None,
    }


def test_a_video_s_parts_come_from_its_scenes() -> None:
    first = merge([ondevice(tags=(Tag("cat", 0.6, "ondevice:tagger"),))])
    second = merge(
        [VLM, ondevice(tags=(Tag("cat", 0.9, "ondevice:tagger"),), regions=(region("OPEN", 0.8),))]
    )
    summary = merge_scenes(
        [SceneAnalysis(0, 0.0, 4.0, first), SceneAnalysis(1, 4.0, 9.0, second)], 2, 9.0
    )
    provenance = summary.provenance
    assert provenance["description"] == {
        "analyzer": "ondevice:caption+vlm:llava+scenes",
        "confidence": 0.6,
    }
    tags = {t["tag"].casefold(): t for t in provenance["tags"]}
    assert tags["video"] == {"tag": "video", "analyzer": "extraction", "confidence": 1.0}
    # Named by both scenes: by the tagger in one, first by the VLM in the other; as sure as
    # the surest scene.
    assert tags["cat"]["analyzer"] == "ondevice:tagger+vlm:llava"
    assert tags["cat"]["confidence"] == 0.6
    assert tags["tabby"] == {"tag": "tabby", "analyzer": "vlm:llava", "confidence": None}
    assert provenance["visible_text"] == {"analyzer": "ondevice:ocr/rapidocr", "confidence": 0.8}
    assert summary.faces is None


def test_faces_come_from_the_first_analysis_that_found_any() -> None:
    face = Face(0.3, 0.1, 0.2, 0.2, 0.97)
    assert merge([VLM, ondevice(faces=(face,))]).faces == (face,)
    assert merge([VLM]).faces == ()


class _Scripted:
    name = "ondevice"
    fingerprint = "scripted-1"

    async def analyze(
        self,
        image: DecodedImage,
        document: DocumentContext | None = None,
        scene: SceneContext | None = None,
    ) -> Analysis:
        return ondevice()


class _Embedder:
    fingerprint = "e5-test"
    dimensions = 2

    async def embed_passage(self, text: str) -> list[float]:
        return [1.0, 0.0]

    async def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0]


async def test_the_pipeline_adds_the_embedder_and_its_own_fingerprint() -> None:
    image = DecodedImage(np.zeros((4, 4, 3), dtype=np.uint8), b"")
    pipeline = DescriptionPipeline([_Scripted()], _Embedder())
    provenance = (await pipeline.describe(DescribeInputs(image))).merged.provenance
    assert provenance["embedding"] == {
        "analyzer": "ondevice:embedder/e5-test",
        "confidence": None,
    }
    assert provenance["pipeline"] == pipeline.fingerprint
    assert provenance["description"]["analyzer"] == "ondevice:caption"
    unembedded = await DescriptionPipeline([_Scripted()], None).describe(DescribeInputs(image))
    assert unembedded.merged.provenance["embedding"] is None
