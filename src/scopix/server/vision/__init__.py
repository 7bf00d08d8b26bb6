"""Vision: analyzers that describe an image, on-device or through a remote model."""
