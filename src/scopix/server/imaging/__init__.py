"""The image adapter: header probing before any decode, WebP variants, blurhash, EXIF date."""

from scopix.server.imaging.probe import ImageDecodeError, ImageHeader, read_header
from scopix.server.imaging.variants import RenderedImage, render_variants

__all__ = ["ImageDecodeError", "ImageHeader", "RenderedImage", "read_header", "render_variants"]
