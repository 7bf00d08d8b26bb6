"""The image variants every stored image gets, by name and longest side."""

from __future__ import annotations

from typing import Final

VARIANT_SIZES: Final[dict[str, int]] = {
    "tiny_64": 64,
    "small_256": 256,
    "medium_750": 750,
    "large_1024": 1024,
}

#: What an upload request renders itself (its decode proves the file whole); the rest is a job.
PREVIEW_SIZES: Final[dict[str, int]] = {"tiny_64": VARIANT_SIZES["tiny_64"]}

ORIGINAL: Final = "original"
THUMBNAIL: Final = "small_256"


def is_known_variant(name: str) -> bool:
    """Whether `name` is a variant a client may ask for."""
    return name == ORIGINAL or name in VARIANT_SIZES
