"""Size and pixel limits, decided from declared facts before anything is decoded."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from scopix.server.domain.errors import CorruptFile, DocumentTooLarge, ImageTooLarge, VideoTooLarge
from scopix.server.domain.videos import VideoMetadata

#: PDF measures pages in points, 72 to the inch.
POINTS_PER_INCH: Final = 72


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


@dataclass(frozen=True)
class DocumentLimits:
    """What one document may cost: checked from its header (pages, archive directory) at upload
    and again at every later decode, and the bounds of every page render."""

    max_pages: int
    #: Larger documents are stored as they are; their text is not extracted.
    max_extract_bytes: int
    docx_max_unpacked_bytes: int
    docx_max_members: int
    #: Scanned pages are rendered at this resolution for OCR (fewer pixels on large pages).
    ocr_dpi: int
    #: Pixels of one page render: a 300-dpi A4 page is 8.7 Mpx, an A0 poster at 300 dpi 140 Mpx.
    max_render_pixels: int = 40_000_000
    #: An archive member declared this much larger than it is stored is a bomb, not a document
    #: (XML deflates 5-20 times; a zip bomb of zeros a thousand times).
    docx_max_ratio: int = 200

    def check_pages(self, pages: int) -> None:
        """Refuse a document whose header declares more pages than allowed (DocumentTooLarge)."""
        if pages > self.max_pages:
            raise DocumentTooLarge(
                f"documents may have at most {self.max_pages:,} pages; this one declares {pages:,}",
                page_count=pages,
                max_pages=self.max_pages,
            )

    def check_archive(self, members: int, unpacked: int) -> None:
        """Refuse an archive whose central directory declares too many members or bytes."""
        if members > self.docx_max_members:
            raise DocumentTooLarge(
                f"a DOCX may hold at most {self.docx_max_members:,} parts; this one has "
                f"{members:,}",
                members=members,
                max_members=self.docx_max_members,
            )
        if unpacked > self.docx_max_unpacked_bytes:
            raise DocumentTooLarge(
                f"a DOCX may unpack to at most {self.docx_max_unpacked_bytes:,} bytes; this one "
                f"declares {unpacked:,}",
                unpacked_bytes=unpacked,
                max_unpacked_bytes=self.docx_max_unpacked_bytes,
            )

    def render_scale(self, width_pt: float, height_pt: float, *, dpi: float) -> float:
        """Pixels per point to render a page of that size at `dpi`, lowered so that the render
        stays within `max_render_pixels`."""
        if width_pt <= 0 or height_pt <= 0:
            raise ValueError(f"a page must have a size, got {width_pt}x{height_pt} pt")
        wanted = dpi / POINTS_PER_INCH
        bounded = math.sqrt(self.max_render_pixels / (width_pt * height_pt))
        return min(wanted, bounded)

    def fit_scale(self, width_pt: float, height_pt: float, max_side: int) -> float:
        """Pixels per point to render a page to fit `max_side` on its longest side, within
        `max_render_pixels`."""
        dpi = max_side / max(width_pt, height_pt) * POINTS_PER_INCH
        return self.render_scale(width_pt, height_pt, dpi=dpi)


@dataclass(frozen=True)
class VideoLimits:
    """What one video may cost, checked from its container at upload and again when its scenes
    are cut, and how its scenes are found (settings `video_*`)."""

    max_duration_seconds: float
    max_side: int
    #: Larger videos are stored as they are; they are not probed and their scenes are not cut.
    max_bytes: int
    #: Cuts closer together than this are one scene.
    scene_min_seconds: float
    #: Frames a second compared to find the cuts.
    sample_fps: float
    #: Scenes kept of one video: past this many the last one runs to the end.
    max_scenes: int
    #: Scenes of one video whose keyframes the analyzers describe.
    max_described_scenes: int

    def check(self, metadata: VideoMetadata) -> None:
        """Refuse a video whose container declares more than allowed (VideoTooLarge), or no
        frame size or duration at all (CorruptFile)."""
        width, height = metadata.width, metadata.height
        if width <= 0 or height <= 0:
            raise CorruptFile(
                f"the video stream declares no frame size ({width}x{height})",
                width=width,
                height=height,
            )
        if not math.isfinite(metadata.duration_seconds) or metadata.duration_seconds <= 0:
            raise CorruptFile("the video declares no duration")
        if max(width, height) > self.max_side:
            raise VideoTooLarge(
                f"videos may be at most {self.max_side} px on a side; this one is {width}x{height}",
                width=width,
                height=height,
                max_side=self.max_side,
            )
        if metadata.duration_seconds > self.max_duration_seconds:
            raise VideoTooLarge(
                f"videos may last at most {_clock(self.max_duration_seconds)}; this one lasts "
                f"{_clock(metadata.duration_seconds)}",
                duration_seconds=metadata.duration_seconds,
                max_duration_seconds=self.max_duration_seconds,
            )

    def decode_seconds(self, metadata: VideoMetadata) -> float:
        """Wall-clock seconds that decoding every frame of this video may take: its pixels at
        `VIDEO_DECODE_PIXELS_PER_SECOND` (a video's whole decode is granted time by its size,
        where a short decode has a fixed clock), at most `VIDEO_DECODE_MAX_SECONDS`. A frame
        rate past `MAX_COUNTED_FRAME_RATE` counts as that: a header may declare any rate."""
        rate = min(metadata.frame_rate or _USUAL_FRAME_RATE, MAX_COUNTED_FRAME_RATE)
        frames = metadata.duration_seconds * rate
        pixels = frames * metadata.width * metadata.height
        return min(pixels / VIDEO_DECODE_PIXELS_PER_SECOND, VIDEO_DECODE_MAX_SECONDS)


#: Pixels a second a video decode is granted: a tenth of what two cores decode of 720p H.264
#: (1.5 Gpx/s measured), so that a slow codec (AV1, 10-bit HEVC) on a busy machine still ends.
VIDEO_DECODE_PIXELS_PER_SECOND: Final = 100_000_000
#: The longest a video decode may take: two hours of 1080p at 30 fps decode in under 15 minutes
#: on two cores.
VIDEO_DECODE_MAX_SECONDS: Final = 3600.0
#: Frames a second a decode is granted time for at most (phones film slow motion at 240).
MAX_COUNTED_FRAME_RATE: Final = 240.0
#: Frames a second of a video whose container declares no rate.
_USUAL_FRAME_RATE: Final = 30.0


def _clock(seconds: float) -> str:
    """Seconds as h:mm:ss (or m:ss), rounded up to the second (a 10:00.4 video is over 10:00)."""
    whole = math.ceil(seconds - 1e-9)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
