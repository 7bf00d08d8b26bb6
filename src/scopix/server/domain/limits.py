"""Size and pixel limits, decided from declared facts before anything is decoded."""

from __future__ import annotations

from dataclasses import dataclass

from scopix.server.domain.errors import ImageTooLarge


@dataclass(frozen=True)
class ImageLimits:
    """Pixel limits checked from the header, at upload and again at every later decode."""

    max_pixels: int
    max_side: int
    #: interlaced PNG and progressive JPEG are decoded whole, not streamed: a lower cap
    max_interlaced_pixels: int

    def check(self, width: int, height: int, *, interlaced: bool) -> None:
        """Refuse a header whose decode would cost too much (ImageTooLarge)."""
        check_image_dimensions(width, height, max_pixels=self.max_pixels, max_side=self.max_side)
        if interlaced and width * height > self.max_interlaced_pixels:
            raise ImageTooLarge(
                f"interlaced or progressive images may have at most "
                f"{self.max_interlaced_pixels:,} pixels; this one has {width * height:,}",
                width=width,
                height=height,
                max_pixels=self.max_interlaced_pixels,
            )


def check_image_dimensions(width: int, height: int, *, max_pixels: int, max_side: int) -> None:
    """Refuse images whose declared size would cost too much to decode."""
    if width <= 0 or height <= 0:
        raise ImageTooLarge("the image declares no pixels", width=width, height=height)
    if max(width, height) > max_side:
        raise ImageTooLarge(
            f"images may be at most {max_side} px on a side; this one is {width}x{height}",
            width=width,
            height=height,
            max_side=max_side,
        )
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"images may have at most {max_pixels:,} pixels; this one has {width * height:,}",
            width=width,
            height=height,
            max_pixels=max_pixels,
        )
