"""Scopix: the typed Python SDK for the Scopix visual intelligence service.

Importing this package stays light: it loads the types and errors; the clients (and
httpx) load on first use of ``Scopix`` or ``SyncScopix``, and the server never.
"""

from typing import TYPE_CHECKING, Any

from scopix.errors import (
    AuthenticationError,
    DescriptionError,
    InsufficientStorageError,
    QuotaExceededError,
    RateLimitError,
    ResourceNotFoundError,
    ScopixConnectionError,
    ScopixError,
    ScopixPermissionError,
    ScopixTimeoutError,
    ServerError,
    UploadError,
    ValidationError,
    WrongMediaTypeError,
)
from scopix.types import (
    BatchUploadResults,
    DescriptionErrorType,
    DescriptionFailure,
    DescriptionResult,
    DescriptionStatus,
    QuotaInfo,
    UploadResult,
)

if TYPE_CHECKING:
    from scopix.client import Scopix, SyncScopix

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BatchUploadResults",
    "DescriptionError",
    "DescriptionErrorType",
    "DescriptionFailure",
    "DescriptionResult",
    "DescriptionStatus",
    "InsufficientStorageError",
    "QuotaExceededError",
    "QuotaInfo",
    "RateLimitError",
    "ResourceNotFoundError",
    "Scopix",
    "ScopixConnectionError",
    "ScopixError",
    "ScopixPermissionError",
    "ScopixTimeoutError",
    "ServerError",
    "SyncScopix",
    "UploadError",
    "UploadResult",
    "ValidationError",
    "WrongMediaTypeError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in ("Scopix", "SyncScopix"):
        from scopix import client

        return getattr(client, name)
    raise AttributeError(f"module 'scopix' has no attribute {name!r}")
