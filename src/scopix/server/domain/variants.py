"""The image variants every stored image gets, by name and longest side."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final, Literal

VariantState = Literal["processing", "completed", "failed", "none"]

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


def variant_state(
    stored: Collection[str], error: str | None, *, has_previews: bool = True
) -> VariantState:
    """Where the variants of some bytes stand: still being made, all made, given up on, or
    none at all for media that have no previews."""
    if not has_previews:
        return "none"
    if error is not None:
        return "failed"
    return "completed" if set(VARIANT_SIZES) <= set(stored) else "processing"
