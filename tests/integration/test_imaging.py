"""The image adapter against real libvips: headers, variants, blurhash, EXIF date, hostile files."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import blurhash
import pytest
import pyvips
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagefactory import (
    elf_bytes,
    gif_bytes,
    jpeg_bytes,
    multipage_tiff,
    pattern,
    png_bytes,
    png_declaring,
    svg_bytes,
    tiff_bytes,
    truncated,
    webp_bytes,
    zip_bytes,
)
from scopix.server.imaging import (
    ImageDecodeError,
    ImageHeader,
    RenderedImage,
    fitted,
    read_header,
    render_variants,
)
from scopix.server.imaging.variants import content_created_at, variants_of

API_SIZES = {"tiny_64": 64, "small_256": 256, "medium_750": 750, "large_1024": 1024}
WEBP_CHUNKS = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}


@pytest.fixture
def write(tmp_path: Path) -> Callable[[bytes], Path]:
    """Write bytes to a fresh file and return its path."""
    counter = iter(range(1_000_000))

    def _write(data: bytes) -> Path:
        path = tmp_path / f"upload-{next(counter)}"
        path.write_bytes(data)
        return path

    return _write


def decoded(data: bytes) -> pyvips.Image:
    """Decode a variant fully."""
    return pyvips.Image.new_from_buffer(data, "").copy_memory()


def dims(data: bytes) -> tuple[int, int]:
    """Return a variant's width and height."""
    image = decoded(data)
    return image.width, image.height


def webp_chunks(data: bytes) -> list[bytes]:
    """Return the chunk types of a RIFF/WebP file, checking its magic."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    kinds, offset = [], 12
    while offset < len(data):
        kinds.append(data[offset : offset + 4])
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        offset += 8 + size + size % 2
    return kinds


def assert_fits(width: int, height: int, original: tuple[int, int], size: int) -> None:
    """The longest side is min(size, original longest side); the aspect ratio is kept."""
    scale = min(size, max(original)) / max(original)
    assert max(width, height) == min(size, max(original))
    assert abs(width - max(original[0] * scale, 1)) <= 1
    assert abs(height - max(original[1] * scale, 1)) <= 1


# --- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "loader", "pages", "bands"),
    [
        (jpeg_bytes(300, 200), "jpegload", 1, 3),
        (png_bytes(300, 200), "pngload", 1, 3),
        (webp_bytes(300, 200), "webpload", 1, 3),
        (gif_bytes(300, 200, frames=3), "gifload", 3, 4),
        (tiff_bytes(300, 200), "tiffload", 1, 3),
        (pattern(300, 200).heifsave_buffer(compression="av1"), "heifload", 1, 3),
    ],
    ids=["jpeg", "png", "webp", "gif", "tiff", "avif"],
)
def test_header_of_each_format(
    write: Callable[[bytes], Path], data: bytes, loader: str, pages: int, bands: int
) -> None:
    header = read_header(write(data))
    assert header == ImageHeader(
        loader=loader, width=300, height=200, pages=pages, orientation=1, bands=bands
    )
    assert (header.display_width, header.display_height) == (300, 200)


@pytest.mark.parametrize(
    ("save", "interlaced"),
    [
        (lambda image: image.pngsave_buffer(interlace=True), True),
        (lambda image: image.jpegsave_buffer(interlace=True), True),
        (lambda image: image.pngsave_buffer(), False),
        (lambda image: image.jpegsave_buffer(), False),
    ],
    ids=["interlaced-png", "progressive-jpeg", "png", "baseline-jpeg"],
)
def test_header_says_whether_the_image_is_interlaced(
    write: Callable[[bytes], Path], save: Callable[[pyvips.Image], bytes], interlaced: bool
) -> None:
    assert read_header(write(save(pattern(300, 200)))).interlaced is interlaced


def test_header_estimates_memory_from_depth_and_bands(write: Callable[[bytes], Path]) -> None:
    deep = pattern(3000, 2000).bandjoin(255).cast("ushort").pngsave_buffer(compression=1)

    header = read_header(write(deep))

    assert (header.bands, header.sample_bytes) == (4, 2)
    assert header.memory_estimate == 3000 * 2000 * 4 * 2


def test_decode_errors_do_not_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "secret-folder" / "upload.part"
    path.parent.mkdir()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)

    with pytest.raises(ImageDecodeError) as refused:
        read_header(path)

    assert "secret-folder" not in str(refused.value)
    assert str(tmp_path) not in str(refused.value)


def test_header_counts_tiff_pages(tmp_path: Path) -> None:
    path = multipage_tiff(tmp_path / "pages.tif", 3, 64, 48)
    assert read_header(path) == ImageHeader("tiffload", 64, 48, 3, 1)
    assert path.stat().st_size > 3 * 64 * 48 * 3


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_5_to_8_swaps_display_dims(
    write: Callable[[bytes], Path], orientation: int
) -> None:
    header = read_header(write(jpeg_bytes(300, 200, orientation=orientation)))
    assert (header.width, header.height, header.orientation) == (300, 200, orientation)
    swapped = orientation >= 5
    assert (header.display_width, header.display_height) == ((200, 300) if swapped else (300, 200))


def test_header_of_a_declared_50000_square_png_reads_no_pixels(
    write: Callable[[bytes], Path],
) -> None:
    data = png_declaring(50_000, 50_000)
    assert len(data) < 2_000_000
    path = write(data)
    started = time.perf_counter()
    header = read_header(path)
    assert time.perf_counter() - started < 0.5  # decoding 2.5 gigapixels would take many seconds
    assert (header.loader, header.width, header.height, header.pages) == (
        "pngload",
        50_000,
        50_000,
        1,
    )


def test_declared_size_png_is_a_valid_image(write: Callable[[bytes], Path]) -> None:
    image = pyvips.Image.new_from_file(str(write(png_declaring(301, 7))), fail_on="warning")
    assert (image.width, image.height, image.max()) == (301, 7, 0)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        os.urandom(4096),
        zip_bytes(),
        elf_bytes(),
        svg_bytes(),
        truncated(webp_bytes(300, 200)),
        truncated(tiff_bytes(300, 200)),
        jpeg_bytes(300, 200)[:100],
    ],
    ids=["empty", "random", "zip", "elf", "svg", "webp-half", "tiff-half", "jpeg-100-bytes"],
)
def test_garbage_raises_image_decode_error(write: Callable[[bytes], Path], data: bytes) -> None:
    path = write(data)
    with pytest.raises(ImageDecodeError):
        read_header(path)
    with pytest.raises(ImageDecodeError):
        render_variants(path, API_SIZES)


def test_missing_file_raises_image_decode_error(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError):
        read_header(tmp_path / "absent.jpg")


# --- decoding errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [jpeg_bytes(600, 400), png_bytes(600, 400), gif_bytes(600, 400)],
    ids=["jpeg", "png", "gif"],
)
@pytest.mark.parametrize("keep_fraction", [0.5, 0.9])
def test_truncated_file_has_a_header_but_raises_on_decode(
    write: Callable[[bytes], Path], data: bytes, keep_fraction: float
) -> None:
    path = write(truncated(data, keep_fraction))
    assert read_header(path).width == 600
    with pytest.raises(ImageDecodeError):
        render_variants(path, API_SIZES)


# --- variants --------------------------------------------------------------------------------


def test_api_variants_are_webp_of_the_right_size(write: Callable[[bytes], Path]) -> None:
    rendered = render_variants(write(jpeg_bytes(1200, 800)), API_SIZES)
    assert (rendered.width, rendered.height) == (1200, 800)
    assert set(rendered.variants) == set(API_SIZES)
    for name, size in API_SIZES.items():
        assert webp_chunks(rendered.variants[name])
        image = decoded(rendered.variants[name])
        assert_fits(image.width, image.height, (1200, 800), size)
        assert (image.bands, image.format) == (3, "uchar")


def test_only_requested_variants_are_made(write: Callable[[bytes], Path]) -> None:
    path = write(png_bytes(300, 200))
    assert set(render_variants(path, {"only": 100}).variants) == {"only"}
    empty = render_variants(path, {})
    assert empty.variants == {}
    assert (empty.width, empty.height) == (300, 200)
    assert empty.blur_hash is not None


def test_small_image_is_never_upscaled(write: Callable[[bytes], Path]) -> None:
    rendered = render_variants(write(jpeg_bytes(40, 30)), API_SIZES)
    assert {name: dims(data) for name, data in rendered.variants.items()} == {
        "tiny_64": (40, 30),
        "small_256": (40, 30),
        "medium_750": (40, 30),
        "large_1024": (40, 30),
    }


def test_orientation_6_variants_come_out_rotated(write: Callable[[bytes], Path]) -> None:
    rendered = render_variants(write(jpeg_bytes(300, 200, orientation=6, quality=95)), API_SIZES)
    assert (rendered.width, rendered.height) == (200, 300)
    assert dims(rendered.variants["large_1024"]) == (200, 300)
    assert_fits(*dims(rendered.variants["small_256"]), (200, 300), 256)
    large = decoded(rendered.variants["large_1024"])
    # Orientation 6: the stored image must be turned 90 degrees clockwise to display upright.
    assert (large - pattern(300, 200).rot90()).abs().avg() < 10
    assert (large - pattern(300, 200).rot270()).abs().avg() > 40


def test_variants_carry_no_metadata(write: Callable[[bytes], Path]) -> None:
    data = jpeg_bytes(300, 200, orientation=3, date_taken=datetime(2019, 3, 1, 12, 0))
    for variant in render_variants(write(data), API_SIZES).variants.values():
        assert set(webp_chunks(variant)) <= WEBP_CHUNKS
        fields = decoded(variant).get_fields()
        assert not [field for field in fields if field.startswith(("exif", "xmp", "icc"))]
        assert "orientation" not in fields


def test_only_the_first_page_is_decoded(tmp_path: Path, write: Callable[[bytes], Path]) -> None:
    for path in (
        write(gif_bytes(120, 80, frames=3)),
        multipage_tiff(tmp_path / "m.tif", 3, 120, 80),
    ):
        rendered = render_variants(path, {"large": 1024})
        assert (rendered.width, rendered.height) == (120, 80)
        assert dims(rendered.variants["large"]) == (120, 80)


@pytest.mark.parametrize(
    ("data", "bands"),
    [
        (png_bytes(300, 200, bits=16), 3),
        (png_bytes(300, 200, alpha=True), 4),
        (png_bytes(300, 200, bits=16, grey=True, alpha=True), 4),
        (png_bytes(300, 200, grey=True), 3),
        (webp_bytes(300, 200, alpha=True), 4),
        (gif_bytes(300, 200), 3),  # libwebp drops an alpha channel that is opaque everywhere
    ],
    ids=["png16", "png-alpha", "png16-grey-alpha", "png-grey", "webp-alpha", "gif"],
)
def test_output_is_8_bit_srgb_keeping_alpha(
    write: Callable[[bytes], Path], data: bytes, bands: int
) -> None:
    for variant in render_variants(write(data), API_SIZES).variants.values():
        image = decoded(variant)
        assert (image.bands, image.format, image.interpretation) == (bands, "uchar", "srgb")
        assert (b"ALPH" in webp_chunks(variant)) == (bands == 4)


def test_sixteen_bit_png_keeps_its_colours(write: Callable[[bytes], Path]) -> None:
    large = decoded(
        render_variants(write(png_bytes(300, 200, bits=16)), API_SIZES).variants["large_1024"]
    )
    assert (large - pattern(300, 200)).abs().avg() < 8


def test_cmyk_jpeg_is_converted_to_srgb(write: Callable[[bytes], Path]) -> None:
    # Read as if RGB, these CMYK pixels would be off by ~140 on average; CMYK's gamut costs ~17.
    tagged = pattern(300, 200).icc_export(output_profile="cmyk").jpegsave_buffer(Q=95)
    large = decoded(render_variants(write(tagged), {"large": 1024}).variants["large"])
    assert (large.bands, large.interpretation) == (3, "srgb")
    assert (large - pattern(300, 200)).abs().avg() < 30


def test_display_p3_jpeg_is_converted_to_srgb(write: Callable[[bytes], Path]) -> None:
    # sRGB red is (230, 49, 35) in Display P3: a variant that kept those numbers would be dull.
    red = pyvips.Image.black(64, 64).new_from_image([255, 0, 0]).copy(interpretation="srgb")
    tagged = red.icc_export(output_profile="p3").jpegsave_buffer(Q=95)
    variant = decoded(render_variants(write(tagged), {"v": 64}).variants["v"])
    assert all(abs(got - want) < 12 for got, want in zip(variant(32, 32), [255, 0, 0], strict=True))


def test_cmyk_jpeg_factory_makes_a_cmyk_jpeg(write: Callable[[bytes], Path]) -> None:
    path = write(jpeg_bytes(64, 48, cmyk=True))
    assert pyvips.Image.new_from_file(str(path)).interpretation == "cmyk"
    assert decoded(render_variants(path, {"v": 64}).variants["v"]).bands == 3


def test_a_rewritten_file_is_read_afresh(tmp_path: Path) -> None:
    path = tmp_path / "same-name"
    path.write_bytes(png_bytes(300, 200))
    assert render_variants(path, {"v": 1024}).width == 300
    path.write_bytes(png_bytes(50, 40))
    assert read_header(path).width == 50
    assert dims(render_variants(path, {"v": 1024}).variants["v"]) == (50, 40)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    width=st.integers(1, 2000),
    height=st.integers(1, 2000),
    size=st.integers(1, 1200),
)
def test_variant_longest_side_is_min_of_size_and_original(
    tmp_path: Path, width: int, height: int, size: int
) -> None:
    path = tmp_path / "upload.jpg"
    path.write_bytes(jpeg_bytes(width, height, quality=70))
    rendered = render_variants(path, {"v": size, "tiny": 64})
    assert (rendered.width, rendered.height) == (width, height)
    for name, limit in (("v", size), ("tiny", 64)):
        assert_fits(*dims(rendered.variants[name]), (width, height), limit)


# --- JPEGs: Pillow decodes them as libvips shows them ------------------------------------------


def libvips_view(path: Path, size: int) -> pyvips.Image:
    """libvips' own thumbnail of a file: upright, 8-bit sRGB."""
    image = pyvips.Image.thumbnail(str(path), size, height=size, size="down")
    return (image.colourspace("srgb") if image.interpretation != "srgb" else image).copy_memory()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_jpeg_decoded_by_pillow_is_upright_as_libvips_shows_it(
    write: Callable[[bytes], Path], orientation: int
) -> None:
    path = write(jpeg_bytes(300, 200, orientation=orientation, quality=95))
    variant = decoded(render_variants(path, {"v": 256}).variants["v"])
    expected = libvips_view(path, 256)
    assert (variant.width, variant.height) == (expected.width, expected.height)
    assert (variant - expected).abs().avg() < 10
    assert (variant - expected.fliphor()).abs().avg() > 40


def test_a_grey_jpeg_decoded_by_pillow_comes_out_srgb(write: Callable[[bytes], Path]) -> None:
    path = write(pattern(300, 200).colourspace("b-w").jpegsave_buffer(Q=95))
    variant = decoded(render_variants(path, {"v": 256}).variants["v"])
    assert (variant.bands, variant.interpretation) == (3, "srgb")
    assert (variant - libvips_view(path, 256)).abs().avg() < 6


def test_plain_jpegs_are_decoded_by_pillow(
    write: Callable[[bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_libvips(*args: object) -> None:
        raise AssertionError("libvips decoded a plain JPEG")

    monkeypatch.setattr(fitted, "_vips_decode", no_libvips)
    for data in (jpeg_bytes(300, 200), jpeg_bytes(300, 200, orientation=6)):
        assert dims(render_variants(write(data), {"v": 64}).variants["v"]) in {(64, 43), (43, 64)}


def test_a_jpeg_pillow_refuses_is_decoded_by_libvips(
    write: Callable[[bytes], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuses(*args: object, **kwargs: object) -> None:
        raise OSError("cannot identify this JPEG")

    monkeypatch.setattr(fitted.Image, "open", refuses)
    path = write(jpeg_bytes(300, 200))
    variant = decoded(render_variants(path, {"v": 256}).variants["v"])
    assert (variant - libvips_view(path, 256)).abs().avg() < 10


#: A JPEG with EXIF (orientation and date) for the damaged-JPEG property below.
EXIF_JPEG = jpeg_bytes(120, 80, orientation=6, date_taken=datetime(2021, 5, 2, 9, 30))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(EXIF_JPEG) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    keep=st.integers(len(EXIF_JPEG) // 2, len(EXIF_JPEG)),
)
def test_a_damaged_jpeg_renders_or_is_refused_as_undecodable(
    tmp_path: Path, edits: list[tuple[int, int]], keep: int
) -> None:
    """Whatever Pillow makes of damaged bytes (its warnings are errors here), the outcome is
    libvips': variants, or ImageDecodeError. Found so: a KeyError out of Pillow's opener."""
    damaged = bytearray(EXIF_JPEG)
    for position, value in edits:
        damaged[position] = value
    path = tmp_path / "damaged.jpg"
    path.write_bytes(bytes(damaged[:keep]))
    try:
        rendered = render_variants(path, {"v": 64})
    except ImageDecodeError:
        return
    assert max(dims(rendered.variants["v"])) <= 64


# --- blurhash --------------------------------------------------------------------------------


def test_blur_hash_is_valid_and_looks_like_the_image(write: Callable[[bytes], Path]) -> None:
    rendered = render_variants(write(jpeg_bytes(600, 400)), API_SIZES)
    assert isinstance(rendered, RenderedImage)
    assert rendered.blur_hash is not None
    assert blurhash.is_valid_blurhash(rendered.blur_hash)
    assert len(rendered.blur_hash) == 6 + 2 * (4 * 3 - 1)  # size flag, max AC, DC, 11 ACs
    preview = blurhash.decode(rendered.blur_hash, 60, 40)
    image = pyvips.Image.new_from_memory(preview.tobytes(), 60, 40, 3, "uchar")
    for band in range(3):
        assert abs(image[band].avg() - pattern(600, 400)[band].avg()) < 20


def test_blur_hash_of_the_64px_preview_looks_like_the_image(write: Callable[[bytes], Path]) -> None:
    # The preview's pixels are averaged 2 x 2 for the hash, not resized by libvips.
    rendered = render_variants(write(jpeg_bytes(600, 400)), {"tiny_64": 64})
    assert rendered.blur_hash is not None
    preview = blurhash.decode(rendered.blur_hash, 60, 40)
    image = pyvips.Image.new_from_memory(preview.tobytes(), 60, 40, 3, "uchar")
    for band in range(3):
        assert abs(image[band].avg() - pattern(600, 400)[band].avg()) < 20


@settings(max_examples=40, deadline=None)
@given(width=st.integers(1, 130), height=st.integers(1, 130))
def test_every_shape_has_a_valid_blur_hash(width: int, height: int) -> None:
    grey = (pyvips.Image.black(width, height, bands=3) + 128).cast("uchar")
    rendered = variants_of(grey.copy(interpretation="srgb"), {})
    assert rendered.blur_hash is not None
    assert blurhash.is_valid_blurhash(rendered.blur_hash)
    assert blurhash.decode(rendered.blur_hash, 4, 4).getpixel((2, 2)) == pytest.approx(
        (128, 128, 128), abs=2
    )


def test_blur_hash_of_a_transparent_image_is_on_white(write: Callable[[bytes], Path]) -> None:
    clear = (pyvips.Image.black(64, 64, bands=4)).cast("uchar").copy(interpretation="srgb")
    rendered = render_variants(write(clear.pngsave_buffer()), {})
    assert rendered.blur_hash is not None
    preview = blurhash.decode(rendered.blur_hash, 8, 8)
    assert min(preview.getpixel((4, 4))) > 240


# --- EXIF date -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        (datetime(2019, 3, 1, 12, 34, 56), datetime(2019, 3, 1, 12, 34, 56, tzinfo=UTC)),
        (
            datetime(2019, 3, 1, 12, 34, 56, tzinfo=timezone(timedelta(hours=-5))),
            datetime(2019, 3, 1, 17, 34, 56, tzinfo=UTC),
        ),
        (None, None),
    ],
    ids=["no-offset-is-utc", "offset", "absent"],
)
def test_date_taken_round_trips(
    write: Callable[[bytes], Path], taken: datetime | None, expected: datetime | None
) -> None:
    rendered = render_variants(write(jpeg_bytes(64, 48, date_taken=taken)), {"v": 64})
    assert rendered.content_created_at == expected
    if taken is not None and taken.tzinfo is not None:
        assert rendered.content_created_at is not None
        assert rendered.content_created_at.utcoffset() == timedelta(hours=-5)


def exif_image(fields: dict[str, str]) -> pyvips.Image:
    """Return an in-memory image carrying the given EXIF string fields as libvips shows them."""
    image = pyvips.Image.black(2, 2).copy()
    for name, value in fields.items():
        image.set_type(pyvips.GValue.gstr_type, name, f"{value} ({value}, ASCII, 20 components)")
    return image


ORIGINAL = "exif-ifd2-DateTimeOriginal"
DATETIME = "exif-ifd0-DateTime"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({ORIGINAL: "2020:02:29 23:59:59"}, datetime(2020, 2, 29, 23, 59, 59, tzinfo=UTC)),
        (
            {ORIGINAL: "2020:02:29 23:59:59", "exif-ifd2-OffsetTimeOriginal": "+05:30"},
            datetime(2020, 2, 29, 23, 59, 59, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
        (
            {
                "exif-ifd2-DateTimeDigitized": "2018:01:02 03:04:05",
                "exif-ifd0-DateTime": "2021:01:01 00:00:00",
            },
            datetime(2018, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        ({DATETIME: "2021:06:07 08:09:10"}, datetime(2021, 6, 7, 8, 9, 10, tzinfo=UTC)),
        (
            {ORIGINAL: "    :  :     :  :  ", DATETIME: "2021:06:07 08:09:10"},
            datetime(2021, 6, 7, 8, 9, 10, tzinfo=UTC),
        ),
        ({ORIGINAL: "2019:13:45 99:00:00"}, None),
        ({ORIGINAL: "0000:00:00 00:00:00"}, None),
        ({ORIGINAL: "yesterday"}, None),
        ({ORIGINAL: ""}, None),
        ({ORIGINAL: "2019:03:01 12:00:00", "exif-ifd2-OffsetTimeOriginal": "+99:00"}, None),
        ({}, None),
    ],
    ids=[
        "original",
        "original-offset",
        "digitized-beats-datetime",
        "datetime",
        "blank-original-falls-back",
        "out-of-range",
        "zeros",
        "words",
        "empty",
        "absurd-offset",
        "absent",
    ],
)
def test_content_created_at_parses_exif_robustly(
    fields: dict[str, str], expected: datetime | None
) -> None:
    assert content_created_at(exif_image(fields)) == expected


def test_content_created_at_ignores_non_string_fields() -> None:
    image = pyvips.Image.black(2, 2).copy()
    image.set_type(pyvips.GValue.gint_type, ORIGINAL, 2019)
    assert content_created_at(image) is None
