"""The page-archive decodes that `IsolatedPool.run` calls in a child: the archive read, its page
parsed (lxml, lexbor) and its image decoded (libvips) there, never in the server. The picture
of a page is its archived image, or, without one that decodes within the limits, its title and
lead set on a page as a text document's card is."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from scopix.server.domain.errors import ImageTooLarge
from scopix.server.domain.limits import DocumentLimits, ImageLimits
from scopix.server.imaging.checked import analysis_checked, render_checked
from scopix.server.imaging.probe import ImageDecodeError
from scopix.server.imaging.variants import RenderedImage
from scopix.server.isolation import reserve_memory
from scopix.server.media.documents.isolated import page_image, page_variants
from scopix.server.media.links.archive import PageArchive, read_archive
from scopix.server.media.links.read import PageRead, read_page
from scopix.server.vision.base import DecodedImage

__all__ = ["archive_inputs", "archive_page", "archive_variants"]

#: Bytes of memory reading an archive may take per byte of it: the bytes, the decoded parts,
#: the page's text and the parsers' trees.
_READ_COST: Final = 12


def archive_page(path: Path) -> tuple[str, PageRead]:
    """The archived page's URL, and the page read."""
    archive = _archive(path)
    return archive.url, read_page(archive.html, archive.url, archive.charset)


def archive_variants(
    path: Path, image: ImageLimits, document: DocumentLimits, sizes: Mapping[str, int]
) -> RenderedImage:
    """The variants of `sizes` of the page's picture."""
    archive = _archive(path)
    if archive.image is not None:
        with _scratch_file(archive.image, ".img") as picture:
            try:
                return render_checked(picture, image, sizes)
            except (ImageDecodeError, ImageTooLarge):
                pass
    page = read_page(archive.html, archive.url, archive.charset)
    with _card(archive, page) as card:
        return page_variants(card, "txt", document, sizes)


def archive_inputs(
    path: Path, image: ImageLimits, document: DocumentLimits, max_side: int
) -> tuple[DecodedImage, str, PageRead]:
    """What the analyzers see of the page: its picture, at most `max_side` a side, its URL
    and the page read."""
    archive = _archive(path)
    page = read_page(archive.html, archive.url, archive.charset)
    if archive.image is not None:
        with _scratch_file(archive.image, ".img") as picture:
            try:
                return analysis_checked(picture, image, max_side), archive.url, page
            except (ImageDecodeError, ImageTooLarge):
                pass
    with _card(archive, page) as card:
        return page_image(card, "txt", document, 1, max_side), archive.url, page


def _archive(path: Path) -> PageArchive:
    reserve_memory(_READ_COST * path.stat().st_size)
    return read_archive(path.read_bytes())


@contextmanager
def _card(archive: PageArchive, page: PageRead) -> Iterator[Path]:
    """A text file of the page's title and lead, for the document card."""
    words = "\n\n".join(part for part in (page.title, page.lead or page.text) if part)
    with _scratch_file((words or archive.url).encode(), ".txt") as card:
        yield card


@contextmanager
def _scratch_file(data: bytes, suffix: str) -> Iterator[Path]:
    """`data` in a file of the child's scratch folder (bounded, emptied after each task)."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as file:
        file.write(data)
        file.flush()
        yield Path(file.name)
