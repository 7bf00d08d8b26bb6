"""Scopix: the typed Python SDK for the Scopix visual intelligence service.

Importing this package stays light: it loads the types and errors, never the server
or an HTTP client.
"""

from scopix.errors import (
    AuthenticationError,
    DescriptionError,
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

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BatchUploadResults",
    "DescriptionError",
    "DescriptionErrorType",
    "DescriptionFailure",
    "DescriptionResult",
    "DescriptionStatus",
    "QuotaExceededError",
    "QuotaInfo",
    "RateLimitError",
    "ResourceNotFoundError",
    "ScopixConnectionError",
    "ScopixError",
    "ScopixPermissionError",
    "ScopixTimeoutError",
    "ServerError",
    "UploadError",
    "UploadResult",
    "ValidationError",
    "__version__",
]
