"""The HTTP clients: ``Scopix`` (async) and ``SyncScopix``."""

from scopix.client._client import AsyncUsage, Scopix
from scopix.client._documents import AsyncDocuments
from scopix.client._files import UNSET, AsyncFiles
from scopix.client._folders import AsyncFolders
from scopix.client._sync import SyncDocuments, SyncFiles, SyncFolders, SyncScopix, SyncUsage

__all__ = [
    "UNSET",
    "AsyncDocuments",
    "AsyncFiles",
    "AsyncFolders",
    "AsyncUsage",
    "Scopix",
    "SyncDocuments",
    "SyncFiles",
    "SyncFolders",
    "SyncScopix",
    "SyncUsage",
]
