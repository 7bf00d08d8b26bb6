"""How the templates show values: sizes, times, statuses and region outlines. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from scopix.server.domain.variants import ORIGINAL
from scopix.server.services.files import BlobLocation

#: Largest first: what the detail view shows, where it exists.
DETAIL_VARIANTS = ("large_1024", "medium_750", "small_256")
#: Description states that will change without anyone asking.
MOVING_STATES = frozenset({"queued", "processing"})
_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_size(size: int) -> str:
    """1234567 -> '1.2 MB' and 100 MiB -> '100 MB': powers of 1024, as the limits are set."""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            number = f"{value:.1f}".removesuffix(".0")
            return f"{number} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def when(moment: datetime | None) -> str:
    """A UTC time to the minute, or a dash."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def points(polygon: Sequence[Sequence[float]]) -> str:
    """An SVG `points` list for a polygon of normalized corners."""
    return " ".join(f"{x:.5f},{y:.5f}" for x, y in polygon)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def best_image(variants: Mapping[str, str], shows_original: bool) -> str | None:
    """The variant the detail view shows: the largest made, else the original when it shows
    as a picture (its media handler says); nothing otherwise."""
    for name in DETAIL_VARIANTS:
        if name in variants:
            return name
    return ORIGINAL if shows_original else None


def is_moving(upload_status: str, description_status: str) -> bool:
    """Whether a card will change by itself: its variants are being made or it is being
    described. The page keeps polling such cards."""
    return upload_status == "processing" or description_status in MOVING_STATES


def shows_inline(location: BlobLocation) -> bool:
    """Only images open in the page; any other original is downloaded, never rendered by the
    browser on this origin."""
    return location.media_type.startswith("image/")
