"""The HTTP clients: ``Scopix`` (async) and ``SyncScopix``."""

from scopix.client._client import AsyncUsage, Scopix
from scopix.client._documents import AsyncDocuments
from scopix.client._events import AsyncEvents, AsyncWebhooks, EventStream
from scopix.client._files import UNSET, AsyncFiles
from scopix.client._folders import AsyncFolders
from scopix.client._sync import (
    SyncDocuments,
    SyncEvents,
    SyncEventStream,
    SyncFiles,
    SyncFolders,
    SyncScopix,
    SyncUsage,
    SyncWebhooks,
)

__all__ = [
    "UNSET",
    "AsyncDocuments",
    "AsyncEvents",
    "AsyncFiles",
    "AsyncFolders",
    "AsyncUsage",
    "AsyncWebhooks",
    "EventStream",
    "Scopix",
    "SyncDocuments",
    "SyncEventStream",
    "SyncEvents",
    "SyncFiles",
    "SyncFolders",
    "SyncScopix",
    "SyncUsage",
    "SyncWebhooks",
]
