"""The HTTP clients: ``Scopix`` (async) and ``SyncScopix``."""

from scopix.client._client import AsyncUsage, Scopix
from scopix.client._files import UNSET, AsyncFiles
from scopix.client._sync import SyncFiles, SyncScopix, SyncUsage

__all__ = ["UNSET", "AsyncFiles", "AsyncUsage", "Scopix", "SyncFiles", "SyncScopix", "SyncUsage"]
