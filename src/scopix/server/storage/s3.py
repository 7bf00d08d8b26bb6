"""BlobStore on any S3 API (AWS, MinIO, Ceph, R2, ...), through boto3.

Uploads still arrive on local disk first (`staging_dir`), where they are hashed, then go up with
boto3's managed transfer. Direct uploads skip the server: the client PUTs each part to a URL
presigned here, and S3 itself joins them (`complete_multipart_upload`). A single-part upload's
presigned PUT names `<key>/incoming`, never `key`: the URL stays valid after completion, so
sealing copies the object to `key`, where no client can replace it between the server hashing
it and moving it. What a PUT late to such a URL leaves is swept (`list_held_uploads`).

Every boto3 call blocks, so each runs in a worker thread; one client serves them all (boto3
clients are thread-safe, sessions are not). S3's refusals and transport failures surface as
`S3Error`, an OSError, so callers treat them like any other storage I/O error.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import anyio
import anyio.to_thread
import boto3  # type: ignore[import-untyped]
from boto3.exceptions import Boto3Error  # type: ignore[import-untyped]
from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from scopix.server.storage.base import BlobNotFound, HeldUpload, StoredPart
from scopix.server.storage.staging import StagingFolder

T = TypeVar("T")
log = logging.getLogger("scopix.storage")
Addressing = Literal["path", "virtual"]

MiB = 1 << 20
#: The largest object S3 copies in one request; larger ones are copied part by part.
COPY_OBJECT_LIMIT = 5 << 30
#: Copy parts this big at least: few enough requests for a 5 TiB object (S3 allows 10,000).
COPY_PART_SIZE = 512 * MiB
MAX_PARTS = 10_000
#: SigV4 presigned URLs live at most a week.
MAX_URL_EXPIRY_S = 7 * 24 * 3600
#: What a batch delete accepts at once.
DELETE_BATCH = 1000
#: The last segment of the key a single-part upload's presigned PUT writes to.
INCOMING = "incoming"
# Bounded memory for promote: at most max_concurrency chunks in flight.
_TRANSFER = TransferConfig(
    multipart_threshold=64 * MiB, multipart_chunksize=16 * MiB, max_concurrency=4
)
_MISSING = frozenset({"NoSuchKey", "NoSuchUpload", "NotFound", "404"})
#: PreconditionFailed: the part to copy is no longer the one listed (CopySourceIfMatch)
_BAD_PARTS = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "PreconditionFailed"})
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_QUERY_KEYS = frozenset({"endpoint", "region", "addressing"})


class S3Error(OSError):
    """S3 refused a request or could not be reached; `code` is S3's error code, if it sent one."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class S3Location:
    """Where the blobs live: `s3://bucket/optional/prefix?endpoint=...&region=...&addressing=...`.

    `endpoint` is for S3 APIs other than AWS (`http://host:port`); `addressing` is `path` (the
    default with an endpoint: MinIO and friends rarely serve bucket subdomains) or `virtual`.
    """

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    addressing: Addressing = "virtual"

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """Read a storage URL; raises ValueError saying what is wrong with it."""
        parts = urlsplit(url)
        if parts.scheme != "s3":
            raise ValueError(f"a storage URL starts with s3://, not {url!r}")
        if parts.fragment or "@" in parts.netloc or not _BUCKET.fullmatch(parts.netloc):
            raise ValueError(f"{parts.netloc!r} is not an S3 bucket name (3-63 of a-z 0-9 . -)")
        options = _query_options(parts.query)
        endpoint = options.get("endpoint")
        if endpoint is not None:
            _check_endpoint(endpoint)
        addressing = options.get("addressing", "path" if endpoint else "virtual")
        if addressing not in ("path", "virtual"):
            raise ValueError(f"addressing is path or virtual, not {addressing!r}")
        return cls(
            bucket=parts.netloc,
            prefix=_prefix(parts.path),
            endpoint=endpoint,
            region=options.get("region"),
            addressing="path" if addressing == "path" else "virtual",
        )

    @property
    def url(self) -> str:
        """The storage URL, in a form `parse` reads back to an equal location."""
        options = {"endpoint": self.endpoint, "region": self.region, "addressing": self.addressing}
        given = {name: value for name, value in options.items() if value is not None}
        path = f"/{self.prefix}" if self.prefix else ""
        return f"s3://{self.bucket}{path}?{urlencode(given, safe=':/', quote_via=quote)}"

    def key(self, key: str) -> str:
        """The object key in the bucket for a store key."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def store_key(self, object_key: str) -> str:
        """The store key of an object key that `key` made."""
        return object_key[len(self.prefix) + 1 :] if self.prefix else object_key


def _query_options(query: str) -> dict[str, str]:
    try:
        parsed = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ValueError(f"the storage URL's query {query!r} is malformed") from None
    unknown = set(parsed) - _QUERY_KEYS
    if unknown:
        known = ", ".join(sorted(_QUERY_KEYS))
        raise ValueError(f"unknown storage URL options {sorted(unknown)}; known: {known}")
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise ValueError(f"storage URL options given twice: {repeated}")
    options = {name: values[0] for name, values in parsed.items()}
    empty = sorted(name for name, value in options.items() if not value)
    if empty:
        raise ValueError(f"storage URL options without a value: {empty}")
    return options


def _check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint must be http(s)://host[:port], not {endpoint!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"endpoint must be http(s)://host[:port], not {endpoint!r}")
    try:
        _ = parts.port  # urlsplit checks the port only when it is asked for it
    except ValueError:
        raise ValueError(f"endpoint {endpoint!r} has a bad port") from None


def _prefix(path: str) -> str:
    prefix = path.strip("/")
    if prefix and any(s in ("", ".", "..") for s in prefix.split("/")):
        raise ValueError(f"the storage URL's prefix {path!r} has an empty, . or .. segment")
    return prefix


def _check_key(key: str) -> str:
    # The same keys as on local disk, so a catalog moves between stores unchanged.
    if any(s in ("", ".", "..") or "\\" in s for s in key.split("/")):
        raise ValueError(f"unsafe blob key {key!r}")
    return key


def _range(start: int, length: int | None) -> str:
    """The `Range` header of a GetObject from byte `start`, `length` bytes (all after it by
    default)."""
    return f"bytes={start}-" if length is None else f"bytes={start}-{start + length - 1}"


def _etag(raw: str) -> str:
    return raw.strip('"')


def _incoming(key: str) -> str:
    """Where the presigned PUT of a single-part upload at `key` puts the object."""
    return f"{key}/{INCOMING}"


class S3BlobStore:
    """Blobs as objects under the location's prefix; staging on local disk."""

    #: Objects up to this size move with one CopyObject; a class attribute so tests can lower it.
    copy_object_limit = COPY_OBJECT_LIMIT
    copy_part_size = COPY_PART_SIZE

    def __init__(self, location: S3Location, staging_dir: Path) -> None:
        self.location = location
        self._staging = StagingFolder(staging_dir)
        self.staging = self._staging.folder
        config = Config(
            retries={"mode": "standard"},
            signature_version="s3v4",
            s3={"addressing_style": location.addressing},
            # boto3 >= 1.36 adds CRC checksum headers to uploads by default, which many S3 APIs
            # other than AWS refuse; TLS guards transfers, and completed direct uploads are
            # hashed again by the server.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # Credentials come from boto3's usual chain: AWS_ACCESS_KEY_ID and friends, or a role.
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=location.endpoint, region_name=location.region, config=config
        )

    async def _run(self, call: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(call)
        except ClientError as exc:
            raise _mapped(exc) from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise S3Error(f"S3 is unavailable: {exc}") from exc

    async def _api(self, operation: str, key: str, **params: Any) -> dict[str, Any]:
        """One S3 operation on the object at store key `key`."""
        method = getattr(self._client, operation)
        call = functools.partial(
            method, Bucket=self.location.bucket, Key=self.location.key(_check_key(key)), **params
        )
        response: dict[str, Any] = await self._run(call)
        return response

    def new_staging_path(self) -> Path:
        return self._staging.new_path()

    def new_staging_file(self) -> Path | None:
        return self._staging.made_file()

    async def promote(
        self, staged: Path, key: str, beside: Mapping[str, bytes] | None = None
    ) -> list[str]:
        stored: list[str] = []
        for small_key, data in (beside or {}).items():
            try:
                await self.put_bytes(small_key, data)
            except OSError as exc:
                log.warning("%s not stored: %s", small_key, exc)
                break
            stored.append(small_key)
        await self._run(functools.partial(self._upload, staged, self.location.key(_check_key(key))))
        return stored

    async def settle(self, staged: Path) -> None:
        """Nothing: the staged file is a local copy the upload to S3 reads, and then removes."""

    def _upload(self, staged: Path, object_key: str) -> None:
        self._client.upload_file(str(staged), self.location.bucket, object_key, Config=_TRANSFER)
        staged.unlink(missing_ok=True)

    async def put_bytes(self, key: str, data: bytes) -> None:
        await self._api("put_object", key, Body=data)

    async def exists(self, key: str) -> bool:
        try:
            await self._api("head_object", key)
        except BlobNotFound:
            return False
        return True

    def local_path(self, key: str) -> Path | None:
        return None

    async def iter_bytes(
        self, key: str, chunk_size: int = 1 << 20, *, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        if length == 0:
            return
        ranged = {} if start == 0 and length is None else {"Range": _range(start, length)}
        body = (await self._api("get_object", key, **ranged))["Body"]
        try:
            while chunk := await self._run(functools.partial(body.read, chunk_size)):
                yield chunk
        finally:
            body.close()

    async def read_head(self, key: str, size: int) -> bytes:
        if size <= 0:
            await self._api("head_object", key)
            return b""
        try:
            response = await self._api("get_object", key, Range=f"bytes=0-{size - 1}")
        except S3Error as exc:
            if exc.code == "InvalidRange":  # the object is empty: no byte 0 to start at
                return b""
            raise
        data: bytes = await self._run(response["Body"].read)
        return data

    async def move(self, key: str, new_key: str) -> None:
        size: int = (await self._api("head_object", key))["ContentLength"]
        if key == new_key:  # S3 refuses to copy an object onto itself unchanged
            return
        await self._copy(key, new_key, size, {})
        await self._api("delete_object", key)

    async def _copy(self, key: str, new_key: str, size: int, conditions: dict[str, str]) -> None:
        source = {"Bucket": self.location.bucket, "Key": self.location.key(_check_key(key))}
        if size <= self.copy_object_limit:
            # Not boto3's managed copy(): it copies in parts above 8 MB, one request per part.
            await self._api("copy_object", new_key, CopySource=source, **conditions)
        else:
            await self._copy_in_parts(source, new_key, size, conditions)

    async def _copy_in_parts(
        self, source: dict[str, str], new_key: str, size: int, conditions: dict[str, str]
    ) -> None:
        part_size = max(self.copy_part_size, -(-size // (MAX_PARTS * MiB)) * MiB)
        upload_id: str = (await self._api("create_multipart_upload", new_key))["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, size, part_size), start=1):
                last = min(start + part_size, size) - 1
                copied = await self._api(
                    "upload_part_copy",
                    new_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={start}-{last}",
                    **conditions,
                )
                parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
            await self._api(
                "complete_multipart_upload",
                new_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            # Else the copied parts stay stored, and billed; the copy's own error matters more.
            with anyio.CancelScope(shield=True), contextlib.suppress(S3Error):
                await self._abort_quietly(new_key, upload_id)
            raise

    async def delete(self, key: str) -> None:
        await self._api("delete_object", key)

    async def delete_prefix(self, prefix: str) -> None:
        # A folder, as on local disk: "t/ab" does not reach "t/abc/...".
        start = self.location.key(_check_key(prefix)) + "/"
        keys = await self._run(lambda: [obj["Key"] for obj in self._objects(start)])
        for first in range(0, len(keys), DELETE_BATCH):
            await self._delete_batch(keys[first : first + DELETE_BATCH])

    async def _delete_batch(self, keys: list[str]) -> None:
        batch = {"Objects": [{"Key": key} for key in keys], "Quiet": True}
        delete = functools.partial(
            self._client.delete_objects, Bucket=self.location.bucket, Delete=batch
        )
        response: dict[str, Any] = await self._run(delete)
        if errors := response.get("Errors"):
            first = errors[0]
            raise S3Error(f"S3 kept {len(errors)} objects, first {first}", first.get("Code", ""))

    def _objects(self, start: str) -> Iterator[dict[str, Any]]:
        """Every object whose key starts with `start` (blocking: call it in a thread)."""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=start
        )
        for page in pages:
            yield from page.get("Contents", [])

    async def list_stale_prefixes(self, depth: int, older_than_s: float) -> list[str]:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        return await self._run(functools.partial(self._stale_prefixes, depth, cutoff))

    def _stale_prefixes(self, depth: int, cutoff: datetime) -> list[str]:
        newest: dict[str, datetime] = {}
        start = f"{self.location.prefix}/" if self.location.prefix else ""
        for obj in self._objects(start):
            segments = self.location.store_key(obj["Key"]).split("/")
            if len(segments) <= depth:  # a blob at that depth, not a folder of blobs
                continue
            group, modified = "/".join(segments[:depth]), obj["LastModified"]
            newest[group] = max(newest.get(group, modified), modified)
        return sorted(group for group, modified in newest.items() if modified < cutoff)

    async def sweep_staging(self, older_than_s: float) -> int:
        return await anyio.to_thread.run_sync(_sweep_folder, self.staging, older_than_s)

    async def begin_parts(self, key: str, multipart: bool) -> str:
        if not multipart:
            _check_key(key)
            return ""
        upload_id: str = (await self._api("create_multipart_upload", key))["UploadId"]
        return upload_id

    def part_url(self, key: str, store_upload_id: str, number: int, expires_s: int) -> str | None:
        if not 0 < expires_s <= MAX_URL_EXPIRY_S:
            raise ValueError(f"a presigned URL lives 1 s to 7 days, not {expires_s} s")
        params: dict[str, Any] = {"Bucket": self.location.bucket}
        if store_upload_id:
            operation = "upload_part"
            params |= {
                "Key": self.location.key(_check_key(key)),
                "UploadId": store_upload_id,
                "PartNumber": number,
            }
        elif number == 1:
            operation = "put_object"
            params["Key"] = self.location.key(_incoming(_check_key(key)))
        else:
            raise ValueError(f"a single upload has only part 1, not {number}")
        url: str = self._client.generate_presigned_url(
            operation, Params=params, ExpiresIn=expires_s, HttpMethod="PUT"
        )
        return url

    async def list_parts(self, key: str, store_upload_id: str) -> list[StoredPart]:
        try:
            if not store_upload_id:
                head = await self._api("head_object", _incoming(key))
                return [StoredPart(1, head["ContentLength"], _etag(head["ETag"]))]
            object_key = self.location.key(_check_key(key))
            listed = functools.partial(self._parts, object_key, store_upload_id)
            return sorted(await self._run(listed), key=lambda part: part.number)
        except BlobNotFound:
            return []

    def _parts(self, object_key: str, upload_id: str) -> list[StoredPart]:
        pages = self._client.get_paginator("list_parts").paginate(
            Bucket=self.location.bucket, Key=object_key, UploadId=upload_id
        )
        return [
            StoredPart(part["PartNumber"], part["Size"], _etag(part["ETag"]))
            for page in pages
            for part in page.get("Parts", [])
        ]

    async def seal_parts(self, key: str, store_upload_id: str, parts: Sequence[StoredPart]) -> None:
        if not store_upload_id:
            await self._seal_single(key, parts)
            return
        listed = [{"PartNumber": part.number, "ETag": f'"{part.etag}"'} for part in parts]
        await self._api(
            "complete_multipart_upload",
            key,
            UploadId=store_upload_id,
            MultipartUpload={"Parts": listed},
        )

    async def _seal_single(self, key: str, parts: Sequence[StoredPart]) -> None:
        """Copy the one part, if it is still the one listed, to `key`, out of its URL's reach."""
        if [part.number for part in parts] != [1]:
            raise ValueError(f"a single upload has only part 1, not {[p.number for p in parts]}")
        (part,) = parts
        try:
            await self._copy(
                _incoming(key), key, part.size, {"CopySourceIfMatch": f'"{part.etag}"'}
            )
        except BlobNotFound:
            raise ValueError("part 1 is not stored") from None
        await self._api("delete_object", _incoming(key))

    async def abort_parts(self, key: str, store_upload_id: str) -> None:
        if store_upload_id:
            await self._abort_quietly(key, store_upload_id)
        else:
            await self._api("delete_object", _incoming(key))
        await self._api("delete_object", key)

    async def list_held_uploads(self, prefix: str) -> list[HeldUpload]:
        return await self._run(functools.partial(self._held_uploads, prefix))

    def _held_uploads(self, prefix: str) -> list[HeldUpload]:
        start = self.location.key(_check_key(prefix.rstrip("/"))) + "/"
        held = []
        for obj in self._objects(start):
            key = self.location.store_key(obj["Key"])
            key = key.removesuffix(f"/{INCOMING}")
            held.append(HeldUpload(key, "", obj["LastModified"]))
        pages = self._client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.location.bucket, Prefix=start
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                key = self.location.store_key(upload["Key"])
                held.append(HeldUpload(key, upload["UploadId"], upload["Initiated"]))
        return held

    async def _abort_quietly(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(BlobNotFound):  # aborted or completed before: nothing to free
            await self._api("abort_multipart_upload", key, UploadId=upload_id)


def _mapped(exc: ClientError) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    if code in _MISSING:
        return BlobNotFound(f"{code}: {error.get('Key') or error.get('Message', '')}")
    if code in _BAD_PARTS:
        return ValueError(f"S3 refused the parts: {code}: {error.get('Message', '')}")
    return S3Error(f"S3 refused the request: {exc}", code)


def _sweep_folder(folder: Path, older_than_s: float) -> int:
    cutoff = time.time() - older_than_s
    removed = 0
    for path in folder.iterdir():
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
