"""The link handler on page archives, read in a real isolated pool: thumbnails from the page's
image (its colour) or its title and lead on a card, the page's text and columns for the
extract job, the analyzers' inputs, and a link not yet fetched refused by every job."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
import pyvips

from docfactory import DEFAULT_LIMITS
from imagefactory import truncated
from linkserver import (
    ARTICLE_IMAGES,
    ARTICLE_PARAGRAPHS,
    COOKIE_TEXT,
    FAVICON,
    FOOTER_TEXT,
    LATIN1_TEXT,
    NAV_TEXT,
    NO_IMAGE_TITLE,
    OG_COLOUR,
    OG_DESCRIPTION,
    OG_TITLE,
    OG_TYPE,
    SHIFT_JIS_TEXT,
    SITE_NAME,
    LinkSite,
)
from scopix.server.domain.errors import WrongMediaType
from scopix.server.domain.limits import ImageLimits
from scopix.server.domain.media import PAGE_ARCHIVE_MIME, URI_LIST_MIME, media_of_mime
from scopix.server.domain.variants import VARIANT_SIZES
from scopix.server.imaging.checked import ImageDecoders
from scopix.server.isolation import IsolatedPool, IsolationLimits
from scopix.server.jobs.records import CRAWL
from scopix.server.media.base import Extracted, MediaFailed
from scopix.server.media.link import LinkHandler
from scopix.server.media.links.archive import PageArchive, build_archive
from scopix.server.media.links.fetch import FetchRules, fetch
from scopix.server.media.links.read import preview_image_url, read_page
from scopix.types.describe import DescriptionErrorType

pytestmark = pytest.mark.asyncio(loop_scope="module")

MiB = 1 << 20
ARCHIVE = media_of_mime(PAGE_ARCHIVE_MIME)
URL_LIST = media_of_mime(URI_LIST_MIME)
ISOLATION = IsolationLimits(
    address_space_bytes=2048 * MiB, cpu_seconds=60, wall_seconds=60, scratch_bytes=64 * MiB
)
URL = "https://www.riverside.example/2026/otters"
GREEN = (32, 160, 96)
RULES = FetchRules(allow_private=True)
STORY = (
    "For the first time in half a century, river otters are raising their young on the banks of "
    "the Elbe. Biologists counted forty-two animals this spring."
)
PAGE = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Otters return to the Elbe</title>
<meta property="og:title" content="The otters are back">
<meta property="og:description" content="Forty-two otters along the Elbe.">
<meta property="og:image" content="/og.png"><meta property="og:site_name" content="Riverside">
<link rel="icon" href="/favicon.png"></head><body>
<nav><a href="/">Home</a> <a href="/h">Horoscopes</a></nav>
<article><h1>Otters return to the Elbe</h1><p>{STORY}</p><img src="img/1.jpg">
<p>Volunteers check the riverbank every Sunday morning for tracks and report each find.</p>
<img src="/img/2.jpg"></article><footer>Imprint. Careers at the Riverside Journal.</footer>
</body></html>""".encode()


def flat_png(colour: tuple[int, int, int]) -> bytes:
    image = (pyvips.Image.black(1200, 630, bands=3) + list(colour)).cast("uchar")
    return bytes(image.copy(interpretation="srgb").pngsave_buffer())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def handler() -> AsyncIterator[LinkHandler]:
    pool = IsolatedPool(2, 1024 * MiB)
    images = ImageLimits(100_000_000, 16_384, 40_000_000)
    yield LinkHandler(ImageDecoders(pool, ISOLATION, images), DEFAULT_LIMITS)
    await pool.aclose()


def saved(tmp_path: Path, page: PageArchive) -> Path:
    path = tmp_path / "page.mhtml"
    path.write_bytes(build_archive(page))
    return path


def mean_colour(webp: bytes) -> tuple[int, ...]:
    pixels = pyvips.Image.new_from_buffer(webp, "").numpy()
    return tuple(round(value) for value in np.asarray(pixels)[..., :3].mean(axis=(0, 1)))


async def test_the_handler_is_a_link_crawled_first(handler: LinkHandler) -> None:
    assert (handler.kind, handler.has_previews, handler.describable) == ("link", True, True)
    assert handler.extract_job == CRAWL and not handler.shows_original
    assert not handler.probes(0) and not handler.probes(10**9)


async def test_previews_come_from_the_page_image(handler: LinkHandler, tmp_path: Path) -> None:
    path = saved(tmp_path, PageArchive(URL, PAGE, "utf-8", flat_png(GREEN), f"{URL}/og.png"))
    rendered = await handler.previews(path, ARCHIVE, VARIANT_SIZES)
    assert set(rendered.variants) == set(VARIANT_SIZES)
    assert (rendered.width, rendered.height) == (1200, 630)
    for webp in rendered.variants.values():
        assert all(abs(a - b) <= 3 for a, b in zip(mean_colour(webp), GREEN, strict=True))


async def test_a_page_without_an_image_gets_a_text_card(
    handler: LinkHandler, tmp_path: Path
) -> None:
    broken = truncated(flat_png(GREEN), 0.2)
    for image in (None, broken):
        path = saved(tmp_path, PageArchive(URL, PAGE, None, image, f"{URL}/og.png"))
        rendered = await handler.previews(path, ARCHIVE, VARIANT_SIZES)
        assert rendered.height > rendered.width  # a page, not the 1200x630 picture
        red, green, blue = mean_colour(next(iter(rendered.variants.values())))
        assert min(red, green, blue) > 200 and abs(red - green) < 8  # black ink on white

    inputs = await handler.describe_inputs(path, ARCHIVE, 512, None)
    assert inputs.image.height == 512 and inputs.image.width < 512


async def test_the_extraction_is_the_article(handler: LinkHandler, tmp_path: Path) -> None:
    path = saved(tmp_path, PageArchive(URL, PAGE, "utf-8", flat_png(GREEN), f"{URL}/og.png"))
    extracted = await handler.extract(path, ARCHIVE, path.stat().st_size)
    assert (extracted.document_type, extracted.title) == ("html", "Otters return to the Elbe")
    (page,) = extracted.pages
    assert STORY in page.text and "Horoscopes" not in page.text and "Imprint" not in page.text
    assert (page.number, page.regions, page.method) == (1, (), "plain")
    assert extracted.file_fields == {
        "page_title": "Otters return to the Elbe",
        "og_metadata": {
            "title": "The otters are back",
            "description": "Forty-two otters along the Elbe.",
            "image": "https://www.riverside.example/og.png",
            "site_name": "Riverside",
            "type": None,
        },
        "favicon_url": "https://www.riverside.example/favicon.png",
        "extracted_images": [
            "https://www.riverside.example/2026/img/1.jpg",
            "https://www.riverside.example/img/2.jpg",
        ],
        "extracted_images_count": 2,
    }

    inputs = await handler.describe_inputs(path, ARCHIVE, 600, extracted)
    assert (inputs.image.width, inputs.image.height) == (600, 315)
    assert inputs.text == page.text.strip() and inputs.title == "Otters return to the Elbe"
    assert dict(inputs.facts) == {
        "document_type": "html",
        "site_name": "Riverside",
        "domain": "www.riverside.example",
    }
    unread = await handler.describe_inputs(path, ARCHIVE, 600, None)
    assert unread.text is not None and STORY in unread.text


async def test_a_link_not_fetched_yet_is_refused(handler: LinkHandler, tmp_path: Path) -> None:
    path = tmp_path / "link.url"
    path.write_bytes(f"{URL}\r\n".encode())
    for job in (
        handler.previews(path, URL_LIST, VARIANT_SIZES),
        handler.describe_inputs(path, URL_LIST, 600, None),
        handler.extract(path, URL_LIST, path.stat().st_size),
    ):
        with pytest.raises(MediaFailed) as failed:
            await job
        assert failed.value.failure.error_type is DescriptionErrorType.VALIDATION_ERROR
        assert "has not been fetched" in failed.value.failure.message
    with pytest.raises(WrongMediaType):
        await handler.render_page(path, ARCHIVE, 1, 600)


async def test_bytes_that_are_not_an_archive_fail_as_validation(
    handler: LinkHandler, tmp_path: Path
) -> None:
    path = tmp_path / "junk.mhtml"
    path.write_bytes(b"<html>not an archive</html>")
    with pytest.raises(MediaFailed) as failed:
        await handler.extract(path, ARCHIVE, path.stat().st_size)
    assert failed.value.failure.error_type is DescriptionErrorType.VALIDATION_ERROR
    extracted = await handler.extract(saved(tmp_path, PageArchive(URL, PAGE, None)), ARCHIVE, 1)
    assert isinstance(extracted, Extracted) and STORY in extracted.pages[0].text


# -- pages of the local link site, fetched as the crawl job fetches them ------------------------


@pytest.fixture(scope="module")
def link_site() -> Iterator[LinkSite]:
    with LinkSite() as site:
        yield site


async def test_the_site_s_article_previews_in_its_og_image_colour(
    handler: LinkHandler, link_site: LinkSite, tmp_path: Path
) -> None:
    page = fetch(link_site.url("/article"), RULES)
    assert preview_image_url(page.body, page.url, page.charset) == link_site.url("/og.png")
    image = fetch(link_site.url("/og.png"), RULES)
    path = saved(tmp_path, PageArchive(page.url, page.body, page.charset, image.body, image.url))

    rendered = await handler.previews(path, ARCHIVE, VARIANT_SIZES)
    for webp in rendered.variants.values():
        assert all(abs(a - b) <= 3 for a, b in zip(mean_colour(webp), OG_COLOUR, strict=True))
    extracted = await handler.extract(path, ARCHIVE, path.stat().st_size)
    text = extracted.pages[0].text
    assert all(paragraph in text for paragraph in ARTICLE_PARAGRAPHS)
    for chrome in (NAV_TEXT, COOKIE_TEXT, FOOTER_TEXT, *NAV_TEXT.split()):
        assert chrome not in text
    fields = extracted.file_fields
    assert fields["favicon_url"] == link_site.url(FAVICON)
    assert fields["extracted_images"] == [link_site.url(src) for src in ARTICLE_IMAGES]
    assert fields["og_metadata"] == {
        "title": OG_TITLE,
        "description": OG_DESCRIPTION,
        "image": link_site.url("/og.png"),
        "site_name": SITE_NAME,
        "type": OG_TYPE,
    }


async def test_the_site_s_page_without_an_image_previews_as_a_card(
    handler: LinkHandler, link_site: LinkSite, tmp_path: Path
) -> None:
    page = fetch(link_site.url("/no-image-article"), RULES)
    assert preview_image_url(page.body, page.url, page.charset) is None
    path = saved(tmp_path, PageArchive(page.url, page.body, page.charset))
    rendered = await handler.previews(path, ARCHIVE, VARIANT_SIZES)
    assert rendered.height > rendered.width
    extracted = await handler.extract(path, ARCHIVE, path.stat().st_size)
    assert extracted.title == NO_IMAGE_TITLE and extracted.file_fields["extracted_images"] == []


@pytest.mark.parametrize(
    ("route", "text"),
    [
        ("/latin1", LATIN1_TEXT),
        ("/shift_jis", SHIFT_JIS_TEXT),
        ("/meta-charset", SHIFT_JIS_TEXT),
        ("/untyped", "An HTML page sent without a type."),
    ],
)
async def test_the_site_s_pages_in_odd_encodings_read_as_written(
    link_site: LinkSite, route: str, text: str
) -> None:
    page = fetch(link_site.url(route), RULES)
    read = read_page(page.body, page.url, page.charset)
    assert text in read.text and read.title == text[:12]
