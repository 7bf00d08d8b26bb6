"""Where a tenant's content-addressed bytes live inside a BlobStore."""

from __future__ import annotations

import re

_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def blob_prefix(tenant_id: str, sha256: str) -> str:
    """The folder of one blob and its variants."""
    if _SHA256_RE.fullmatch(sha256) is None:
        raise ValueError("not a SHA-256 hex digest")
    return f"{tenant_id}/{sha256[:2]}/{sha256}"


def original_key(tenant_id: str, sha256: str) -> str:
    """The uploaded bytes, unchanged."""
    return f"{blob_prefix(tenant_id, sha256)}/original"


def variant_key(tenant_id: str, sha256: str, variant: str) -> str:
    """One WebP variant."""
    return f"{blob_prefix(tenant_id, sha256)}/{variant}.webp"


def scene_thumbnail_key(tenant_id: str, sha256: str, index: int) -> str:
    """The WebP thumbnail of a video's scene `index` (0-based): inside the blob's folder, so it
    is removed with the blob's other bytes."""
    if index < 0:
        raise ValueError("a scene index is 0 or more")
    return f"{blob_prefix(tenant_id, sha256)}/scenes/{index}.webp"


def parse_blob_prefix(prefix: str) -> tuple[str, str] | None:
    """(tenant_id, sha256) from a blob folder, or None for anything else."""
    parts = prefix.split("/")
    if len(parts) != 3 or _SHA256_RE.fullmatch(parts[2]) is None or parts[1] != parts[2][:2]:
        return None
    return parts[0], parts[2]
