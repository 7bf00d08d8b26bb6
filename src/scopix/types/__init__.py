"""Public SDK data types: upload results, quota information and descriptions."""

from scopix.types.describe import (
    DescriptionErrorType,
    DescriptionFailure,
    DescriptionResult,
    DescriptionStatus,
)
from scopix.types.upload import BatchUploadResults, QuotaInfo, UploadResult

__all__ = [
    "BatchUploadResults",
    "DescriptionErrorType",
    "DescriptionFailure",
    "DescriptionResult",
    "DescriptionStatus",
    "QuotaInfo",
    "UploadResult",
]
