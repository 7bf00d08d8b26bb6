"""The Analyzer port: what every vision provider takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from scopix.server.domain.regions import TextRegion
from scopix.types.describe import DescriptionErrorType

Pixels = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class DecodedImage:
    """An upright (EXIF orientation applied), 8-bit RGB image, height x width x 3.

    `width` and `height` are the pixel array's; normalized coordinates are relative to them,
    which equals the displayed image because decoding only ever scales uniformly.
    """

    pixels: Pixels
    jpeg: bytes  # the same picture as a JPEG, for providers that take an encoded image

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True)
class Tag:
    """A label and how sure the provider is of it (1.0 when the provider gives no score).

    `source` names the analyzer that produced it when that is narrower than the provider
    (`ondevice:tagger`, `ondevice:people`, `ondevice:ocr/tesseract`); None means the provider."""

    label: str
    score: float = 1.0
    source: str | None = None


@dataclass(frozen=True)
class Face:
    """A face found in the picture: its box normalized 0-1 like a text region, and how sure the
    detector is. Where a face is, never whose: nothing identifies a person."""

    x: float
    y: float
    width: float
    height: float
    confidence: float


@dataclass(frozen=True)
class Analysis:
    """What one provider found; empty fields mean it had nothing to say about them."""

    provider: str
    description: str | None = None
    tags: tuple[Tag, ...] = ()
    key_elements: tuple[str, ...] = ()
    visible_text: str | None = None
    text_regions: tuple[TextRegion, ...] = ()
    #: pooled image features, float32 little-endian, unit length: image-to-image similarity
    image_features: bytes | None = None
    #: the most probable ImageNet classes as (class index, probability), most probable first
    class_scores: tuple[tuple[int, float], ...] = ()
    #: stage name -> milliseconds of model inference, e.g. {"ocr": 640.2, "tags": 9.1}
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: faces found, and how many people are seen in all (faces and bodies without one)
    faces: tuple[Face, ...] = ()
    people_count: int = 0
    #: the analyzers that produced the description and the visible text, when narrower than
    #: the provider (`ondevice:caption`, `ondevice:ocr/tesseract`, `vlm:<model>`); None: the
    #: provider. `description_confidence`: how sure it is of its description, when it can say.
    description_source: str | None = None
    description_confidence: float | None = None
    text_source: str | None = None


@dataclass(frozen=True)
class DocumentContext:
    """What a document says of itself, beside the image of its first page that analyzers see.

    `text` is its extracted text, every page in reading order, and `regions` the lines that text
    was found in (each with its `page`); an analyzer given text reads it rather than the page's
    pixels (a VLM gets its start in the prompt, the on-device captioner quotes it and runs no
    OCR). `text` is None when extraction gave nothing to read (it failed or has not run): the
    page's pixels are read as for an image. `document_type` is `pdf`, `docx`, `txt` or `md`,
    or `html` for a saved web page, whose `site` is its site's name or domain.
    """

    text: str | None = None
    regions: tuple[TextRegion, ...] = ()
    title: str | None = None
    page_count: int | None = None
    document_type: str | None = None
    site: str | None = None


@dataclass(frozen=True)
class SceneContext:
    """Where a video's keyframe sits: analyzers see one per scene. `index` is 0-based; the
    times are seconds. Only numbers: nothing a video's uploader wrote reaches a prompt."""

    index: int
    scene_count: int
    start_seconds: float
    end_seconds: float
    duration_seconds: float | None = None


class AnalyzerError(Exception):
    """A provider failed; `error_type` classifies it and decides whether a retry may help."""

    def __init__(
        self,
        error_type: DescriptionErrorType,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retry_after = retry_after


class Analyzer(Protocol):
    """A vision provider. `fingerprint` names its models and options, for the analysis cache."""

    @property
    def name(self) -> str: ...

    @property
    def fingerprint(self) -> str: ...

    async def analyze(
        self,
        image: DecodedImage,
        document: DocumentContext | None = None,
        scene: SceneContext | None = None,
    ) -> Analysis:
        """Describe `image`, the first page of `document` or the keyframe of a video's `scene`
        when one is given; raises AnalyzerError on a classified failure."""
        ...


class TextEmbedder(Protocol):
    """Turns text into a unit-length vector for semantic search."""

    @property
    def fingerprint(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    async def embed_passage(self, text: str) -> list[float]:
        """Embed a document to be searched."""
        ...

    async def embed_query(self, text: str) -> list[float]:
        """Embed a search query."""
        ...
