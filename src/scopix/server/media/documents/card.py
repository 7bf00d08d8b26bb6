"""The picture of a document that has no pages of its own (DOCX, TXT, MD): the start of its text
set on a white A4 page, for thumbnails, the page viewer and the analyzers' image."""

from __future__ import annotations

import html
import re
from typing import Final

import pyvips

__all__ = ["CARD_HEIGHT", "CARD_WIDTH", "text_card"]

#: A4 at 150 dpi.
CARD_WIDTH: Final = 1240
CARD_HEIGHT: Final = 1754
_MARGIN: Final = 120
_DPI: Final = 150
_FONT: Final = "sans 11"
#: More than a page of 11-pt text: what does not fit is cut at the page's foot.
_MAX_CHARACTERS: Final = 4000
#: Pango refuses markup with control characters other than tabs and line breaks.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def text_card(text: str) -> pyvips.Image:
    """The start of `text` set in a sans font on a white page, as 8-bit sRGB."""
    shown = _CONTROL.sub(" ", text[:_MAX_CHARACTERS]).strip()
    page = pyvips.Image.black(CARD_WIDTH, CARD_HEIGHT).new_from_image(255).cast("uchar")
    if shown:
        ink = pyvips.Image.text(
            html.escape(shown, quote=False), font=_FONT, width=CARD_WIDTH - 2 * _MARGIN, dpi=_DPI
        )
        ink = ink.crop(0, 0, ink.width, min(ink.height, CARD_HEIGHT - 2 * _MARGIN))
        page = page.insert((255 - ink).cast("uchar"), _MARGIN, _MARGIN)
    return page.bandjoin([page, page]).copy(interpretation="srgb").copy_memory()
