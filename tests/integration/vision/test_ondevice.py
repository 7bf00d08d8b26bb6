"""The on-device analyzers against the real models: OCR boxes, tags, captions, embeddings."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import anyio
import numpy as np
import pytest
import pyvips

from imagefactory import jpeg_bytes, png_bytes, truncated
from scopix.server.domain.regions import BoundingBox, TextRegion, as_record
from scopix.server.imaging.analysis import JPEG_MAX_SIDE, decode_for_analysis
from scopix.server.imaging.probe import ImageDecodeError
from scopix.server.vision.base import (
    Analysis,
    AnalyzerError,
    DecodedImage,
)
from scopix.server.vision.ondevice import E5Embedder, OnDeviceAnalyzer, Tagger, TextReader
from scopix.server.vision.ondevice import ocr as ocr_module
from scopix.server.vision.ondevice.loading import PerProcess
from scopix.server.vision.ondevice.ocr import RAPIDOCR_VERSION
from scopix.server.vision.ondevice.tagger import (
    KINDS,
    LABELS_PATH,
    MODEL_PATH,
    class_labels,
    model_sha256,
)
from scopix.types.describe import DescriptionErrorType

PHOTOS = Path(__file__).resolve().parents[2] / "assets" / "photos"

#: An A5 page at 150 dpi with three lines of 24 px sans text at known places.
PAGE_SIZE = (874, 1240)
LINES = (
    ("INVOICE No. 1042", 80, 120),
    ("Total due: 318.40 EUR", 80, 300),
    ("Payable within 30 days", 120, 480),
)
FONT = "sans 24"
Box = tuple[float, float, float, float]  # x, y, width, height in pixels


# Models load once per process; the module fixtures load them up front. The fixtures take no
# limiter: an anyio limiter belongs to one event loop, and each test here runs its own.


@pytest.fixture(scope="module")
def analyzer() -> OnDeviceAnalyzer:
    analyzer = OnDeviceAnalyzer(threads=2)
    analyzer.load()
    return analyzer


@pytest.fixture(scope="module")
def embedder() -> E5Embedder:
    embedder = E5Embedder()
    embedder.load()
    return embedder


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> tuple[pyvips.Image, list[Box]]:
    """A white page with LINES in black, and each line's ink box."""
    ink = pyvips.Image.black(*PAGE_SIZE)
    boxes: list[Box] = []
    for text, x, y in LINES:
        mask = pyvips.Image.text(text, font=FONT)
        ink = ink.insert(mask, x, y)
        boxes.append((x, y, mask.width, mask.height))
    page = (255 - ink).cast("uchar").copy(interpretation="b-w")
    return page, boxes


def analyze(analyzer: OnDeviceAnalyzer, image: DecodedImage) -> Analysis:
    return anyio.run(analyzer.analyze, image)


def photo(name: str) -> DecodedImage:
    return decode_for_analysis(PHOTOS / name)


def labels(analysis: Analysis) -> set[str]:
    return {t.label for t in analysis.tags}


def squashed(text: str) -> str:
    """Text without whitespace, case-folded: OCR may drop a space after a full stop."""
    return "".join(text.split()).casefold()


def normalized(box: Box, width: int, height: int) -> BoundingBox:
    x, y, w, h = box
    return BoundingBox(x / width, y / height, w / width, h / height)


def iou(a: BoundingBox, b: BoundingBox) -> float:
    left, top = max(a.x, b.x), max(a.y, b.y)
    right = min(a.x + a.width, b.x + b.width)
    bottom = min(a.y + a.height, b.y + b.height)
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union else 0.0


def contains(outer: BoundingBox, inner: BoundingBox, slack: float) -> bool:
    return (
        outer.x <= inner.x + slack
        and outer.y <= inner.y + slack
        and outer.x + outer.width >= inner.x + inner.width - slack
        and outer.y + outer.height >= inner.y + inner.height - slack
    )


def assert_lines_found_where_drawn(
    analysis: Analysis, boxes: list[Box], size: tuple[int, int]
) -> None:
    """Each drawn line is one region, read right, whose box holds the ink and little else."""
    width, height = size
    assert analysis.visible_text is not None
    assert [squashed(row) for row in analysis.visible_text.splitlines()] == [
        squashed(text) for text, _, _ in LINES
    ]
    assert len(analysis.text_regions) == len(LINES)
    for region, (text, _, _), box in zip(analysis.text_regions, LINES, boxes, strict=True):
        drawn = normalized(box, width, height)
        assert squashed(region.text) == squashed(text)
        assert contains(region.bbox, drawn, slack=3 / width), (region.bbox, drawn)
        assert iou(region.bbox, drawn) >= 0.4, (region.bbox, drawn)


def test_cat_photo(analyzer: OnDeviceAnalyzer) -> None:
    analysis = analyze(analyzer, photo("chelsea.png"))
    assert "cat" in labels(analysis)
    assert analysis.description is not None and "cat" in analysis.description
    assert "cat" in analysis.key_elements
    assert analysis.visible_text is None and analysis.text_regions == ()


def test_image_features_and_class_scores(analyzer: OnDeviceAnalyzer) -> None:
    analysis = analyze(analyzer, photo("chelsea.png"))
    assert analysis.image_features is not None
    features = np.frombuffer(analysis.image_features, dtype="<f4")
    assert features.shape == (1280,)
    assert math.isclose(float(np.linalg.norm(features)), 1.0, abs_tol=1e-5)
    assert len(analysis.class_scores) == 10
    probabilities = [p for _, p in analysis.class_scores]
    assert probabilities == sorted(probabilities, reverse=True)
    # The three most probable classes are cat breeds: tabby, tiger cat, Egyptian cat.
    assert {i for i, _ in analysis.class_scores[:3]} <= set(KINDS["cat"])


def test_features_find_the_same_photo_re_encoded(tmp_path: Path) -> None:
    """Image-to-image similarity: a smaller JPEG of the cat is nearer the cat than anything."""
    tagger = Tagger()
    names = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "page.png"]
    features = np.array([tagger.observe(photo(name)).features for name in names])
    copy = tmp_path / "cat.jpg"
    pyvips.Image.new_from_file(str(PHOTOS / "chelsea.png")).resize(0.5).write_to_file(
        str(copy), Q=70
    )
    similarities = features @ tagger.observe(decode_for_analysis(copy)).features
    assert similarities.argmax() == 0 and similarities[0] > 0.9, similarities


def test_coffee_photo(analyzer: OnDeviceAnalyzer) -> None:
    analysis = analyze(analyzer, photo("coffee.png"))
    assert labels(analysis) & {"coffee", "cup"}
    assert analysis.description == "An espresso."
    # The detector's whole-photo box read as "8" is dropped as spurious.
    assert analysis.text_regions == ()


def test_scanned_page_is_a_document(analyzer: OnDeviceAnalyzer) -> None:
    analysis = analyze(analyzer, photo("page.png"))
    assert {"text", "document"} <= labels(analysis)
    assert analysis.visible_text is not None
    assert analysis.visible_text.startswith("Region-based segmentation\n")
    assert "markers of the coins" in analysis.visible_text
    assert analysis.description is not None
    assert analysis.description.startswith('A document with text that begins: "Region-based')


def test_result_shape(analyzer: OnDeviceAnalyzer) -> None:
    analysis = analyze(analyzer, photo("page.png"))
    assert analysis.provider == analyzer.name == "ondevice"
    assert set(analysis.timings_ms) == {"ocr", "tags", "people"}
    assert all(v > 0 for v in analysis.timings_ms.values())
    scores = [t.score for t in analysis.tags]
    assert scores == sorted(scores, reverse=True)
    for region in analysis.text_regions:
        assert isinstance(region, TextRegion)
        entry = as_record(region)
        assert 0 <= entry["confidence"] <= 1  # type: ignore[operator]
        assert all(0 <= v <= 1 for point in region.polygon for v in point)


def test_fingerprint_names_models_and_thresholds(analyzer: OnDeviceAnalyzer) -> None:
    assert f"rapidocr-{RAPIDOCR_VERSION}" in analyzer.fingerprint
    assert model_sha256()[:12] in analyzer.fingerprint
    other = OnDeviceAnalyzer(tagger=Tagger(min_score=0.3))
    assert other.fingerprint != analyzer.fingerprint


def test_generated_document(
    analyzer: OnDeviceAnalyzer, document: tuple[pyvips.Image, list[Box]], tmp_path: Path
) -> None:
    page, boxes = document
    path = tmp_path / "invoice.png"
    page.write_to_file(str(path))  # 1-band greyscale: decoding must make it RGB
    analysis = analyze(analyzer, decode_for_analysis(path))
    assert_lines_found_where_drawn(analysis, boxes, PAGE_SIZE)
    assert "document" in labels(analysis)
    assert analysis.description is not None
    assert analysis.description.startswith('A document with text that begins: "INVOICE No')


def test_exif_rotated_document_has_boxes_in_the_displayed_frame(
    analyzer: OnDeviceAnalyzer, document: tuple[pyvips.Image, list[Box]], tmp_path: Path
) -> None:
    page, boxes = document
    # Orientation 6: the camera stored the picture turned a quarter anticlockwise; a viewer
    # turns it clockwise, showing the upright page.
    stored = page.rot("d270").copy()
    stored.set_type(pyvips.GValue.gint_type, "orientation", 6)
    path = tmp_path / "rotated.jpg"
    path.write_bytes(stored.jpegsave_buffer(Q=95))
    assert (stored.width, stored.height) == (PAGE_SIZE[1], PAGE_SIZE[0])

    image = decode_for_analysis(path)
    assert (image.width, image.height) == PAGE_SIZE
    assert_lines_found_where_drawn(analyze(analyzer, image), boxes, PAGE_SIZE)


def test_polygons_run_clockwise_from_the_top_left(
    analyzer: OnDeviceAnalyzer, document: tuple[pyvips.Image, list[Box]], tmp_path: Path
) -> None:
    page, _ = document
    path = tmp_path / "tilted.png"
    page.similarity(angle=8, background=255).write_to_file(str(path))
    analysis = analyze(analyzer, decode_for_analysis(path))
    assert analysis.text_regions
    for region in analysis.text_regions:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = region.polygon
        assert x1 > x0 and y1 > y0  # the top edge runs right and, tilted 8 degrees, down
        assert y3 > y0 and x3 < x0  # the left edge runs down and back
        # A parallelogram, near enough: the diagonals share their midpoint.
        assert math.isclose(x0 + x2, x1 + x3, abs_tol=0.01)
        assert math.isclose(y0 + y2, y1 + y3, abs_tol=0.01)


def test_concurrent_analyses_match_sequential_ones(analyzer: OnDeviceAnalyzer) -> None:
    images = [photo("coffee.png"), photo("page.png")]
    sequential = [analyze(analyzer, image) for image in images]
    concurrent: list[Analysis | None] = [None, None]

    async def both() -> None:
        shared = OnDeviceAnalyzer(anyio.CapacityLimiter(2), threads=2)  # the same engines

        async def one(index: int) -> None:
            concurrent[index] = await shared.analyze(images[index])

        async with anyio.create_task_group() as group:
            for index in range(len(images)):
                group.start_soon(one, index)

    anyio.run(both)
    for done, expected in zip(concurrent, sequential, strict=True):
        assert done is not None
        assert (done.tags, done.text_regions) == (expected.tags, expected.text_regions)


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((0, 10, 3), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 3), np.float32),
    ],
)
def test_absurd_pixels_are_a_validation_error(
    analyzer: OnDeviceAnalyzer, pixels: np.ndarray[tuple[int, ...], np.dtype[np.generic]]
) -> None:
    with pytest.raises(AnalyzerError) as caught:
        analyze(analyzer, DecodedImage(pixels=pixels, jpeg=b""))  # type: ignore[arg-type]
    assert caught.value.error_type is DescriptionErrorType.VALIDATION_ERROR


@pytest.mark.parametrize("shape", [(1, 2048, 3), (2048, 1, 3), (1, 1, 3)])
def test_extreme_shapes_are_read_not_refused(
    analyzer: OnDeviceAnalyzer, shape: tuple[int, int, int]
) -> None:
    # rapidocr alone raises on the first, and takes 38 s over the second.
    analysis = analyze(analyzer, DecodedImage(pixels=np.full(shape, 255, np.uint8), jpeg=b""))
    assert analysis.text_regions == ()


def test_an_engine_failure_is_a_validation_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def choking(_threads: int) -> object:
        def engine(_pixels: object, _side: int | None = None) -> object:
            raise ZeroDivisionError("float division by zero")

        return engine

    monkeypatch.setattr(ocr_module, "_engines", PerProcess(choking))
    with pytest.raises(AnalyzerError) as caught:
        TextReader().read(DecodedImage(pixels=np.zeros((8, 8, 3), np.uint8), jpeg=b""))
    assert caught.value.error_type is DescriptionErrorType.VALIDATION_ERROR
    assert "ZeroDivisionError" in caught.value.message


def test_rapidocr_is_quiet(analyzer: OnDeviceAnalyzer) -> None:
    assert logging.getLogger("RapidOCR").getEffectiveLevel() >= logging.ERROR


# --- decoding ---------------------------------------------------------------------------------


def test_decode_gives_upright_rgb_and_a_small_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    path.write_bytes(jpeg_bytes(1600, 900, orientation=6))
    image = decode_for_analysis(path)
    assert image.pixels.shape == (1600, 900, 3)
    assert image.pixels.dtype == np.uint8 and image.pixels.flags.c_contiguous
    jpeg = pyvips.Image.new_from_buffer(image.jpeg, "")
    assert jpeg.get("vips-loader") == "jpegload_buffer"
    assert (jpeg.width, jpeg.height) == (576, JPEG_MAX_SIDE)
    assert jpeg.get_typeof("exif-data") == 0 and jpeg.get_typeof("icc-profile-data") == 0


def test_decode_shrinks_to_max_side(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    path.write_bytes(png_bytes(3000, 1000))
    assert decode_for_analysis(path, max_side=600).pixels.shape == (200, 600, 3)
    small = tmp_path / "small.png"
    small.write_bytes(png_bytes(30, 20))
    assert decode_for_analysis(small).pixels.shape == (20, 30, 3)  # never enlarged


@pytest.mark.parametrize(
    "data",
    [
        png_bytes(64, 48, grey=True),
        png_bytes(64, 48, alpha=True),
        png_bytes(64, 48, bits=16, alpha=True, grey=True),
    ],
    ids=["grey", "rgba", "grey16-alpha"],
)
def test_decode_makes_three_bands(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(data)
    assert decode_for_analysis(path).pixels.shape == (48, 64, 3)


def test_transparency_is_flattened_on_white(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    path.write_bytes(pyvips.Image.black(8, 8, bands=4).cast("uchar").pngsave_buffer())
    assert (decode_for_analysis(path).pixels == 255).all()


@pytest.mark.parametrize(
    "data", [truncated(jpeg_bytes(400, 300)), truncated(png_bytes(400, 300)), b"not an image"]
)
def test_corrupt_files_raise_image_decode_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken"
    path.write_bytes(data)
    with pytest.raises(ImageDecodeError):
        decode_for_analysis(path)


# --- the tagger's model and labels -------------------------------------------------------------


def test_labels_are_the_imagenet_classes_in_index_order() -> None:
    names = class_labels()
    lines = LABELS_PATH.read_text(encoding="utf-8").splitlines()
    assert len(names) == len(lines) == 1000
    assert lines[0] == "tench, Tinca tinca"
    assert lines[999] == "toilet tissue, toilet paper, bathroom tissue"
    assert (names[281], names[285], names[504], names[967], names[968]) == (
        "tabby",
        "Egyptian cat",
        "coffee mug",
        "espresso",
        "cup",
    )


@pytest.mark.parametrize(
    ("kind", "first", "last"),
    [
        ("fish", "tench", "puffer"),
        ("bird", "cock", "albatross"),
        ("dog", "Chihuahua", "Mexican hairless"),
        ("cat", "tabby", "Egyptian cat"),
        ("car", "ambulance", "sports car"),
        ("truck", "fire engine", "trailer truck"),
        ("bicycle", "bicycle-built-for-two", "mountain bike"),
        ("motorbike", "moped", "motor scooter"),
        ("boat", "aircraft carrier", "yawl"),
        ("aircraft", "airliner", "wing"),
        ("train", "bullet train", "streetcar"),
        ("coffee", "espresso maker", "espresso"),
        ("cup", "coffee mug", "cup"),
        ("fruit", "Granny Smith", "pomegranate"),
    ],
)
def test_broader_words_cover_the_intended_classes(kind: str, first: str, last: str) -> None:
    names = class_labels()
    indices = KINDS[kind]
    assert (names[indices[0]], names[indices[-1]]) == (first, last)


def test_each_class_has_at_most_one_broader_word() -> None:
    indices = [i for members in KINDS.values() for i in members]
    assert len(indices) == len(set(indices))
    assert all(0 <= i < 1000 for i in indices)


def test_provenance_names_the_shipped_model() -> None:
    provenance = (MODEL_PATH.parent / "PROVENANCE.md").read_text(encoding="utf-8")
    assert model_sha256() in provenance


def test_broader_word_scores_sum_their_classes() -> None:
    probabilities = np.zeros(1000, np.float32)
    probabilities[[281, 282, 285]] = [0.16, 0.39, 0.36]
    probabilities[968] = 0.05
    findings = Tagger(min_score=0.2).findings_from(probabilities)
    assert [(f.label, f.score, f.kind) for f in findings] == [
        ("cat", 0.91, None),
        ("tiger cat", 0.39, "cat"),
        ("Egyptian cat", 0.36, "cat"),
    ]


# --- text embeddings ---------------------------------------------------------------------------


CAT_TEXT = "A cat, probably a tiger cat.\ncat, tiger cat, Egyptian cat"
INVOICE_TEXT = (
    'A document with text that begins: "INVOICE No. 1042 Total due: 318.40 EUR".\n'
    "text, document\nINVOICE No. 1042\nTotal due: 318.40 EUR"
)


async def test_embeddings_are_unit_vectors(embedder: E5Embedder) -> None:
    for vector in [await embedder.embed_query("Katze"), await embedder.embed_passage(CAT_TEXT)]:
        assert len(vector) == embedder.dimensions == 384
        assert math.isclose(float(np.linalg.norm(vector)), 1.0, abs_tol=1e-5)
    assert "multilingual-e5-small" in embedder.fingerprint


async def test_a_german_query_finds_the_cat(embedder: E5Embedder) -> None:
    query = np.array(await embedder.embed_query("Katze"))
    cat = np.array(await embedder.embed_passage(CAT_TEXT))
    invoice = np.array(await embedder.embed_passage(INVOICE_TEXT))
    assert query @ cat > query @ invoice
    bill = np.array(await embedder.embed_query("Rechnung"))
    assert bill @ invoice > bill @ cat


async def test_passages_embedded_together_are_those_embedded_alone(
    embedder: E5Embedder,
) -> None:
    together = await embedder.embed_passages([CAT_TEXT, INVOICE_TEXT])
    alone = [await embedder.embed_passage(CAT_TEXT), await embedder.embed_passage(INVOICE_TEXT)]
    assert np.allclose(together, alone, atol=1e-6)


async def test_query_and_passage_prefixes_differ(embedder: E5Embedder) -> None:
    assert await embedder.embed_query("Katze") != await embedder.embed_passage("Katze")


async def test_embedder_runs_within_its_limiter(embedder: E5Embedder) -> None:
    limited = E5Embedder(anyio.CapacityLimiter(1))
    assert await limited.embed_query("Katze") == await embedder.embed_query("Katze")
