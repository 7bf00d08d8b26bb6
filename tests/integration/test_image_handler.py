"""The image handler on real decoder children: what an upload, the variants job and the
describe job get from it, and how each refuses bad bytes (a 4xx at upload, a classified
failure in a job)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from imagefactory import jpeg_bytes, png_declaring, truncated
from scopix.server.domain.errors import CorruptFile, ImageTooLarge, WrongMediaType
from scopix.server.domain.limits import ImageLimits
from scopix.server.domain.media import media_of_mime
from scopix.server.domain.variants import PREVIEW_SIZES, VARIANT_SIZES
from scopix.server.imaging.checked import ImageDecoders
from scopix.server.isolation import IsolatedPool, IsolationLimits
from scopix.server.media.base import MediaFailed
from scopix.server.media.image import ImageHandler
from scopix.types.describe import DescriptionErrorType

MiB = 1024 * 1024
JPEG = media_of_mime("image/jpeg")
PNG = media_of_mime("image/png")


@pytest.fixture
async def handler() -> AsyncIterator[ImageHandler]:
    pool = IsolatedPool(1, 512 * MiB)
    limits = IsolationLimits(
        address_space_bytes=1536 * MiB, cpu_seconds=30, wall_seconds=30.0, scratch_bytes=8 * MiB
    )
    yield ImageHandler(ImageDecoders(pool, limits, ImageLimits(100_000_000, 16_384, 40_000_000)))
    await pool.aclose()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[bytes], Path]:
    def write(data: bytes) -> Path:
        path = tmp_path / "original"
        path.write_bytes(data)
        return path

    return write


async def test_an_image_is_probed_previewed_and_described(
    handler: ImageHandler, write: Callable[[bytes], Path]
) -> None:
    path = write(jpeg_bytes(1200, 800, seed=3))
    assert (handler.kind, handler.has_previews, handler.describable) == ("image", True, True)
    assert handler.extract_job is None and handler.shows_original and handler.probes(10**12)

    probed = await handler.probe(path, JPEG, PREVIEW_SIZES)
    assert probed.rendered is not None and set(probed.rendered.variants) == set(PREVIEW_SIZES)
    assert (probed.rendered.width, probed.rendered.height) == (1200, 800)
    assert (await handler.probe(path, JPEG, None)).rendered is None  # bytes stored already

    rendered = await handler.previews(path, JPEG, VARIANT_SIZES)
    assert set(rendered.variants) == set(VARIANT_SIZES)

    inputs = await handler.describe_inputs(path, JPEG, 600, None)
    assert (inputs.image.width, inputs.image.height) == (600, 400)
    assert (inputs.text, inputs.regions, inputs.page_count) == (None, None, None)


async def test_bytes_that_do_not_decode_are_corrupt_at_upload_and_validation_in_a_job(
    handler: ImageHandler, write: Callable[[bytes], Path]
) -> None:
    path = write(truncated(jpeg_bytes(600, 400, seed=4), 0.3))
    with pytest.raises(CorruptFile, match="does not decode"):
        await handler.probe(path, JPEG, PREVIEW_SIZES)
    for job in (
        handler.previews(path, JPEG, VARIANT_SIZES),
        handler.describe_inputs(path, JPEG, 600, None),
    ):
        with pytest.raises(MediaFailed) as failed:
            await job
        assert failed.value.failure.error_type is DescriptionErrorType.VALIDATION_ERROR


async def test_a_header_over_the_limits_is_too_large_at_upload_and_a_resource_limit_in_a_job(
    handler: ImageHandler, write: Callable[[bytes], Path]
) -> None:
    path = write(png_declaring(50_000, 50_000))
    with pytest.raises(ImageTooLarge):
        await handler.probe(path, PNG, PREVIEW_SIZES)
    for job in (
        handler.previews(path, PNG, VARIANT_SIZES),
        handler.describe_inputs(path, PNG, 600, None),
    ):
        with pytest.raises(MediaFailed) as failed:
            await job
        assert failed.value.failure.error_type is DescriptionErrorType.RESOURCE_LIMIT


async def test_an_image_has_no_pages_and_no_text_pipeline(
    handler: ImageHandler, write: Callable[[bytes], Path]
) -> None:
    path = write(jpeg_bytes(60, 40, seed=5))
    with pytest.raises(WrongMediaType):
        await handler.render_page(path, JPEG, 1, 1024)
    with pytest.raises(WrongMediaType):
        await handler.extract(path, JPEG, 100)
