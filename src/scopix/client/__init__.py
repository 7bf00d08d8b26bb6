"""The HTTP clients: ``Scopix`` (async) and ``SyncScopix``."""

from scopix.client._client import AsyncUsage, Scopix
from scopix.client._documents import AsyncDocuments
from scopix.client._events import AsyncEvents, AsyncWebhooks, EventStream
from scopix.client._extraction import AsyncExtraction
from scopix.client._files import AsyncFiles
from scopix.client._folders import AsyncFolders
from scopix.client._sync import (
    SyncDocuments,
    SyncEvents,
    SyncEventStream,
    SyncExtraction,
    SyncFiles,
    SyncFolders,
    SyncScopix,
    SyncUsage,
    SyncWebhooks,
)
from scopix.client._unset import UNSET

__all__ = [
    "UNSET",
    "AsyncDocuments",
    "AsyncEvents",
    "AsyncExtraction",
    "AsyncFiles",
    "AsyncFolders",
    "AsyncUsage",
    "AsyncWebhooks",
    "EventStream",
    "Scopix",
    "SyncDocuments",
    "SyncEventStream",
    "SyncEvents",
    "SyncExtraction",
    "SyncFiles",
    "SyncFolders",
    "SyncScopix",
    "SyncUsage",
    "SyncWebhooks",
]
