"""Domain errors: each carries a stable code that the API turns into a status and an envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomainError(Exception):
    """A refusal the user can act on; `code` is stable and part of the API contract."""

    code: ClassVar[str] = "VALIDATION_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: Mapping[str, Any] = details


class ValidationFailed(DomainError):
    """A field or parameter breaks a documented rule."""


class MalformedRequest(DomainError):
    """The request itself cannot be read (not multipart, broken body)."""


class EmptyFile(DomainError):
    """A file of zero bytes."""

    code = "EMPTY_FILE"


class UnsupportedMediaType(DomainError):
    """The bytes are of a type we do not accept."""

    code = "UNSUPPORTED_MEDIA_TYPE"


class CorruptFile(DomainError):
    """The bytes claim a supported type but do not decode."""

    code = "CORRUPT_FILE"


class ImageTooLarge(DomainError):
    """The declared pixel dimensions exceed the limits."""

    code = "IMAGE_TOO_LARGE"


class DocumentTooLarge(DomainError):
    """A document's header declares more than the limits allow (pages, archive members or
    unpacked size)."""

    code = "DOCUMENT_TOO_LARGE"


class VideoTooLarge(DomainError):
    """A video's container declares more than the limits allow (duration or frame size)."""

    code = "VIDEO_TOO_LARGE"


class WrongMediaType(DomainError):
    """A route that belongs to another media type (`/text` of an image, `/scenes` of a PDF)."""

    code = "WRONG_MEDIA_TYPE"


class ResourceLimit(DomainError):
    """Decoding the bytes crashed or overran its memory, time or scratch limits (twice)."""

    code = "RESOURCE_LIMIT"


class FileTooLarge(DomainError):
    """More bytes than the route accepts."""

    code = "FILE_TOO_LARGE"


class PayloadTooLarge(DomainError):
    """A request body over the route's cap (a JSON body over 1 MiB)."""

    code = "PAYLOAD_TOO_LARGE"


class InvalidApiKey(DomainError):
    """Missing, malformed, unknown or revoked API key."""

    code = "INVALID_API_KEY"


class PermissionDenied(DomainError):
    """The key is valid but lacks the scope for this action."""

    code = "PERMISSION_DENIED"


class QuotaExceeded(DomainError):
    """The tenant has no credits left for the work asked."""

    code = "QUOTA_EXCEEDED"


class NotFound(DomainError):
    """No such resource for this tenant (also said for other tenants' resources)."""

    code = "NOT_FOUND"


class Conflict(DomainError):
    """The resource is in a state that forbids the action."""

    code = "CONFLICT"


class IdempotencyKeyReused(DomainError):
    """An `Idempotency-Key` presented again with a different request or body."""

    code = "IDEMPOTENCY_KEY_REUSED"


class RateLimited(DomainError):
    """More requests than the tenant's tier allows a minute; `details.retry_after` says when."""

    code = "RATE_LIMITED"


class Unavailable(DomainError):
    """A dependency (database, storage) cannot serve right now; retrying may help."""

    code = "UNAVAILABLE"


class InsufficientStorage(DomainError):
    """The server's disk would run under its free minimum if these bytes were kept."""

    code = "INSUFFICIENT_STORAGE"


class PartSizeWrong(DomainError):
    """A direct-upload part whose body is not the length the upload's plan gives it."""

    code = "PART_SIZE_MISMATCH"


class UploadIncomplete(DomainError):
    """A direct upload completed before all of its parts arrived whole."""

    code = "UPLOAD_INCOMPLETE"


class ChecksumMismatch(DomainError):
    """The stored bytes do not have the SHA-256 the client declared."""

    code = "CHECKSUM_MISMATCH"


class SizeMismatch(DomainError):
    """The stored bytes are not as many as the client declared."""

    code = "SIZE_MISMATCH"


class UploadNotActive(DomainError):
    """A direct upload that is completed, aborted, expired or failed takes no more actions."""

    code = "UPLOAD_NOT_ACTIVE"


class InvalidSignature(DomainError):
    """A signed URL whose signature does not match what it names."""

    code = "INVALID_SIGNATURE"


class UrlExpired(DomainError):
    """A signed URL used after its expiry."""

    code = "URL_EXPIRED"


class SearchUnavailable(DomainError):
    """A kind of search this server's configuration cannot answer (no embedder)."""

    code = "SEARCH_UNAVAILABLE"


class InvalidUrl(DomainError):
    """A link's URL cannot be fetched as given: not http(s), no host, too long, unreadable."""

    code = "INVALID_URL"


class UrlRefused(DomainError):
    """A link's URL names an address the server must not reach (loopback, private, ...)."""

    code = "URL_REFUSED"
