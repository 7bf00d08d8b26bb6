"""Videos' decoders as they run inside an isolated child (`server.isolation`): PyAV with the
FFmpeg inside its wheel. `decode` opens a file and reads its container and frames, `frames`
turns a decoded frame into a signature (domain.scenes) or an upright picture, and `isolated`
holds the functions the pool calls.

They raise the domain's errors, which pickle back to the parent as themselves: CorruptFile (no
video stream, truncated, undecodable), UnsupportedMediaType (a codec FFmpeg cannot decode) and
VideoTooLarge (the container declares more than the limits).
"""
