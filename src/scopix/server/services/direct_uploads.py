"""Direct uploads: start, receive parts (local storage), resume, complete, abort and sweep.

The client's claims (size, SHA-256, which parts it sent) decide nothing: completion asks storage
which parts it holds, joins them, hashes what it stored, and only then hands the bytes to
ingest, which dedups and records them exactly like a streaming upload. Storage seals the joined
object out of reach of every part URL, so the bytes hashed are the bytes kept; a part arriving
after that is refused (409), and bytes a presigned URL takes late are swept.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import anyio.to_thread

from scopix.server.catalog.models import DirectUpload
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain import signing
from scopix.server.domain.direct_uploads import (
    COMPLETION_LEASE,
    UPLOADS_PREFIX,
    URLS_PER_ANSWER,
    PartPlan,
    UploadState,
    can_claim_completion,
    check_parts,
    first_problems,
    is_leftover,
    missing_parts,
    plan_parts,
    require_active,
    upload_id_in,
    upload_key,
    valid_sha256,
)
from scopix.server.domain.errors import (
    ChecksumMismatch,
    Conflict,
    DomainError,
    NotFound,
    PartSizeWrong,
    SizeMismatch,
    UploadIncomplete,
)
from scopix.server.domain.fields import UploadOptions, validate_filename
from scopix.server.domain.ids import new_id
from scopix.server.domain.media import SNIFF_BYTES, sniff
from scopix.server.services.ingest import Ingested, Ingestor, StagedUpload, StoredUpload, Upload
from scopix.server.storage.base import (
    BlobNotFound,
    BlobStore,
    HeldUpload,
    PartReceiver,
    PartSizeMismatch,
    StoredPart,
)

log = logging.getLogger("scopix.direct_uploads")

#: uploads whose first parts one process hashes as they arrive; past this the oldest is
#: forgotten, and its completion hashes the whole file
HASHED_PREFIXES = 64
#: bytes read at a time when completion hashes a file
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class DirectUploadSettings:
    """How long part URLs and whole uploads live, and the key that signs local part URLs."""

    url_seconds: int
    expiry_seconds: int
    signing_secret: bytes


@dataclass(frozen=True)
class StartRequest:
    """What a client asks to upload."""

    filename: str
    size_bytes: int
    sha256: str | None
    options: UploadOptions


@dataclass(frozen=True)
class PartTarget:
    """Where to PUT one part: a presigned storage URL, or a grant the API turns into a signed
    URL on this server (`url` is None then)."""

    number: int
    expires_at: datetime
    url: str | None
    grant: signing.PartGrant
    signature: str


@dataclass(frozen=True)
class UploadView:
    """A direct upload as its client sees it."""

    upload: DirectUpload
    plan: PartPlan
    parts: list[StoredPart]
    targets: list[PartTarget]
    next_part: int | None
    resumed: bool = False


@dataclass
class HashedPrefix:
    """The SHA-256 of an upload's first parts, taken as they arrive, while their bytes are in
    the page cache: completion hashes only the rest when the copies hashed (`parts`, in order)
    are the ones it sealed. `busy` while a worker thread feeds the digest."""

    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    parts: list[StoredPart] = field(default_factory=list)
    busy: bool = False

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)


@dataclass(frozen=True)
class Deduplicated:
    """A start whose declared SHA-256 the tenant already holds: recorded with no bytes sent."""

    ingested: Ingested


class DirectUploadService:
    """The direct-upload use cases."""

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        store: BlobStore,
        ingest: Ingestor,
        settings: DirectUploadSettings,
    ) -> None:
        self.uows = uows
        self.store = store
        self.ingest = ingest
        self.settings = settings
        self._prefixes: OrderedDict[str, HashedPrefix] = OrderedDict()

    async def start(
        self, tenant_id: str, request: StartRequest, upload_ref: str | None = None
    ) -> UploadView | Deduplicated:
        """A new upload, the active one of the same bytes (resumed), or the file at once when
        the tenant already holds these bytes."""
        filename = validate_filename(request.filename)
        plan = plan_parts(request.size_bytes)
        sha256 = valid_sha256(request.sha256)
        await self.ingest.check_placement(tenant_id, request.options)
        if sha256 is not None:
            known = await self.ingest.ingest_known(
                tenant_id, filename, sha256, request.options, upload_ref
            )
            if known is not None:
                return Deduplicated(known)
            resumable = await self._resumable(tenant_id, filename, sha256, plan, request.options)
            if resumable is not None:
                view = await self._view_of(resumable, first_part=1)
                return replace(view, resumed=True)
        await self._require_room(tenant_id, plan.size)
        upload = await self._create(tenant_id, filename, sha256, plan, request.options)
        return await self._view_of(upload, first_part=1)

    async def view(self, tenant_id: str, upload_id: str, first_part: int = 1) -> UploadView:
        """The upload with the parts storage holds and fresh URLs for missing ones."""
        async with self.uows.read() as uow:
            upload = await uow.direct_uploads.get(tenant_id, upload_id)
        if upload is None:
            raise NotFound("no such direct upload", upload_id=upload_id)
        return await self._view_of(upload, first_part)

    async def receive_part(
        self,
        grant: signing.PartGrant,
        signature: str,
        declared_length: int | None,
        chunks: AsyncIterator[bytes],
    ) -> StoredPart:
        """Store one part sent to a signed URL on this server (local storage). Refused (409)
        once a completion holds the upload or it is finished; storage refuses it again if the
        upload was sealed or aborted while the body arrived."""
        signing.verify(self.settings.signing_secret, grant, signature, time.time())
        if not isinstance(self.store, PartReceiver):
            raise NotFound("this server's storage takes parts at its own URLs")
        upload = await self._any_tenant(grant.upload_id)
        _require_taking_parts(upload, _now())
        offset, size = _plan(upload).span(grant.number)
        if declared_length is not None and declared_length != size:
            raise _wrong_size(grant.number, size, declared_length)
        try:
            part = await self.store.receive_part(
                upload.store_upload_id, grant.number, offset, size, chunks
            )
        except PartSizeMismatch:
            raise _wrong_size(grant.number, size, None) from None
        except BlobNotFound:
            # Sealed or aborted while the body arrived: say what the upload has become.
            _require_taking_parts(await self._any_tenant(grant.upload_id), _now())
            raise Conflict(
                "the upload was being completed while this part arrived; send it again",
                retry_after=1,
            ) from None
        try:
            await self._hash_ahead(self.store, upload)
        except (OSError, ValueError):  # the part is stored all the same
            log.warning("hashing direct upload %s ahead failed; completion hashes it", upload.id)
        return part

    async def _hash_ahead(self, store: PartReceiver, upload: DirectUpload) -> None:
        """Hash the parts that now follow the upload's hashed prefix. One request at a time
        does it; another finding it busy answers at once, the busy one carries on."""
        prefix = self._prefix_of(upload.id)
        if prefix.busy:
            return
        prefix.busy = True
        try:
            while len(prefix.parts) < _plan(upload).part_count:
                number = len(prefix.parts) + 1
                part = await store.read_part(upload.store_upload_id, number, prefix.digest.update)
                if part is None:
                    return
                prefix.parts.append(part)
        except BaseException:
            # What the digest got is unknown now: completion hashes the whole file.
            self._prefixes.pop(upload.id, None)
            raise
        finally:
            prefix.busy = False

    def _prefix_of(self, upload_id: str) -> HashedPrefix:
        prefix = self._prefixes.get(upload_id)
        if prefix is None:
            prefix = self._prefixes[upload_id] = HashedPrefix()
            if len(self._prefixes) > HASHED_PREFIXES:
                self._prefixes.popitem(last=False)
        return prefix

    async def complete(
        self, tenant_id: str, upload_id: str, sha256: str | None = None
    ) -> tuple[Ingested, DirectUpload]:
        """Verify what storage holds, then record it; one completion at a time per upload."""
        declared = valid_sha256(sha256)
        upload, token = await self._claim(tenant_id, upload_id)
        try:
            done = await self._finish_holding_claim(upload, token, declared)
        except (UploadIncomplete, PartSizeWrong):
            await self._release(upload.id, token, UploadState.ACTIVE)
            raise
        except DomainError as exc:
            await self._release(upload.id, token, UploadState.FAILED, error=exc.message)
            await self._free(upload)
            raise
        except BaseException:
            await self._release(upload.id, token, UploadState.ACTIVE)
            raise
        return done, upload

    async def abort(self, tenant_id: str, upload_id: str) -> None:
        """Give the upload up and free its bytes; aborting twice is fine."""
        async with self.uows.write() as uow:
            upload = await uow.direct_uploads.lock(tenant_id, upload_id)
            if upload is None:
                raise NotFound("no such direct upload", upload_id=upload_id)
            if upload.state == UploadState.COMPLETED:
                require_active(upload.state, image_id=upload.file_id)
            if upload.state == UploadState.COMPLETING and not can_claim_completion(
                upload.state, upload.claimed_until, _now()
            ):
                raise Conflict("this upload is being completed", retry_after=5)
            if upload.state in (UploadState.ACTIVE, UploadState.COMPLETING):
                upload.state = UploadState.ABORTED
            await uow.commit()
        await self._free(upload)

    async def sweep(self) -> int:
        """Expire uploads past their expiry, free the bytes of those that will never complete,
        and whatever storage still holds for finished ones (parts PUT late to a presigned URL);
        how many uploads were freed."""
        now = _now()
        async with self.uows.write() as uow:
            for upload in await uow.direct_uploads.lapsed(now):
                upload.state = UploadState.EXPIRED
                upload.claim_token = None
            await uow.commit()
        async with self.uows.read() as uow:
            unfreed = await uow.direct_uploads.unfreed()
        for upload in unfreed:
            await self._free(upload)
        return len(unfreed) + await self._sweep_leftovers(now)

    async def _sweep_leftovers(self, now: datetime) -> int:
        held = await self.store.list_held_uploads(UPLOADS_PREFIX)
        states = await self._states(held)
        freed = 0
        for bytes_held in held:
            upload_id = upload_id_in(bytes_held.key)
            if upload_id is None or not is_leftover(states[upload_id], bytes_held.modified, now):
                continue
            try:
                await self.store.abort_parts(bytes_held.key, bytes_held.store_upload_id)
            except OSError:
                log.warning("freeing what is left of direct upload %s failed", upload_id)
                continue
            freed += 1
        return freed

    async def _states(self, held: list[HeldUpload]) -> dict[str, str | None]:
        """The state of each upload storage holds bytes of; None when no row names it."""
        ids = {upload_id for h in held if (upload_id := upload_id_in(h.key)) is not None}
        states: dict[str, str | None] = {}
        async with self.uows.read() as uow:
            for upload_id in ids:
                upload = await uow.direct_uploads.get_any_tenant(upload_id)
                states[upload_id] = upload.state if upload is not None else None
        return states

    async def _any_tenant(self, upload_id: str) -> DirectUpload:
        async with self.uows.read() as uow:
            upload = await uow.direct_uploads.get_any_tenant(upload_id)
        if upload is None:
            raise NotFound("no such direct upload", upload_id=upload_id)
        return upload

    # --- starting ---------------------------------------------------------------------------

    async def _require_room(self, tenant_id: str, size: int) -> None:
        """Refuse at once an upload that could not be kept: over the tenant's storage quota,
        or, when parts land on this server's disk, more than the disk can spare. Completion
        reserves the room for real (ingest)."""
        room = self.ingest.room
        if isinstance(self.store, PartReceiver):
            room.disk.check(size)
        await room.quota.require_room(tenant_id, size)

    async def _resumable(
        self,
        tenant_id: str,
        filename: str,
        sha256: str,
        plan: PartPlan,
        options: UploadOptions,
    ) -> DirectUpload | None:
        async with self.uows.read() as uow:
            candidates = await uow.direct_uploads.resumable(tenant_id, sha256, plan.size, _now())
        wanted = _options_record(options)
        for upload in candidates:
            if upload.filename == filename and upload.options == wanted:
                return upload
        return None

    async def _create(
        self,
        tenant_id: str,
        filename: str,
        sha256: str | None,
        plan: PartPlan,
        options: UploadOptions,
    ) -> DirectUpload:
        upload_id = new_id()
        key = upload_key(tenant_id, upload_id)
        store_upload_id = await self.store.begin_parts(key, plan.method == "multipart")
        now = _now()
        upload = DirectUpload(
            id=upload_id,
            tenant_id=tenant_id,
            state=UploadState.ACTIVE.value,
            filename=filename,
            size_bytes=plan.size,
            sha256=sha256,
            options=_options_record(options),
            part_size=plan.part_size,
            storage_key=key,
            store_upload_id=store_upload_id,
            sealed=False,
            created_at=now,
            expires_at=now + timedelta(seconds=self.settings.expiry_seconds),
        )
        try:
            async with self.uows.write() as uow:
                uow.direct_uploads.add(upload)
                await uow.commit()
        except BaseException:
            await self.store.abort_parts(key, store_upload_id)
            raise
        return upload

    async def _view_of(self, upload: DirectUpload, first_part: int) -> UploadView:
        plan = _plan(upload)
        open_for_parts = upload.state == UploadState.ACTIVE and not upload.sealed
        parts = await self._held_parts(upload) if open_for_parts else []
        # A part held at the wrong size is offered again, like a missing one.
        whole = check_parts(plan, ((p.number, p.size) for p in parts))
        held = {p.number for p in parts} - set(whole.wrong_size)
        missing = missing_parts(plan, held, first_part) if open_for_parts else []
        window = missing[:URLS_PER_ANSWER]
        targets = [self._target(upload, number) for number in window]
        next_part = missing[URLS_PER_ANSWER] if len(missing) > URLS_PER_ANSWER else None
        return UploadView(upload, plan, parts, targets, next_part)

    async def _held_parts(self, upload: DirectUpload) -> list[StoredPart]:
        return await self.store.list_parts(upload.storage_key, upload.store_upload_id)

    def _target(self, upload: DirectUpload, number: int) -> PartTarget:
        expires = int(time.time()) + self.settings.url_seconds
        grant = signing.PartGrant(upload.id, number, expires)
        url = self.store.part_url(
            upload.storage_key, upload.store_upload_id, number, self.settings.url_seconds
        )
        signature = "" if url else signing.sign(self.settings.signing_secret, grant)
        return PartTarget(number, datetime.fromtimestamp(expires, UTC), url, grant, signature)

    # --- completing -------------------------------------------------------------------------

    async def _claim(self, tenant_id: str, upload_id: str) -> tuple[DirectUpload, str]:
        now = _now()
        token = str(uuid.uuid4())
        async with self.uows.write() as uow:
            upload = await uow.direct_uploads.lock(tenant_id, upload_id)
            if upload is None:
                raise NotFound("no such direct upload", upload_id=upload_id)
            if upload.state == UploadState.COMPLETING and not can_claim_completion(
                upload.state, upload.claimed_until, now
            ):
                raise Conflict("this upload is being completed; ask again shortly", retry_after=5)
            _require_open(upload, now)
            upload.state = UploadState.COMPLETING.value
            upload.claim_token = token
            upload.claimed_until = now + COMPLETION_LEASE
            await uow.commit()
        return upload, token

    async def _finish_holding_claim(
        self, upload: DirectUpload, token: str, declared: str | None
    ) -> Ingested:
        """`_finish`, renewing the claim meanwhile: hashing terabytes outlasts any lease."""
        outcome: Ingested | Exception
        async with anyio.create_task_group() as group:
            group.start_soon(self._keep_claim, upload.id, token)
            try:
                outcome = await self._finish(upload, token, declared)
            except Exception as exc:  # re-raised below, not wrapped in an exception group
                outcome = exc
            group.cancel_scope.cancel()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _keep_claim(self, upload_id: str, token: str) -> None:
        while True:
            await anyio.sleep(COMPLETION_LEASE.total_seconds() / 3)
            async with self.uows.write() as uow:
                await uow.direct_uploads.update_claimed(
                    upload_id, token, claimed_until=_now() + COMPLETION_LEASE
                )
                await uow.commit()

    async def _release(
        self, upload_id: str, token: str, state: UploadState, error: str | None = None
    ) -> None:
        with anyio.CancelScope(shield=True):
            async with self.uows.write() as uow:
                await uow.direct_uploads.update_claimed(
                    upload_id, token, state=state.value, claim_token=None, error=error
                )
                await uow.commit()

    async def _finish(self, upload: DirectUpload, token: str, declared: str | None) -> Ingested:
        ref = _upload_ref(upload.id)
        done = await self.ingest.recorded(upload.tenant_id, ref)
        if done is None:
            sealed = None if upload.sealed else await self._seal(upload, token)
            staged = await self._verified(upload, declared or upload.sha256, sealed)
            done = await self.ingest.ingest(
                upload.tenant_id, staged, _options_of(upload), upload_ref=ref
            )
        await self._discard_leftovers(upload)
        await self._mark_completed(upload, token, done.file.id)
        return done

    async def _discard_leftovers(self, upload: DirectUpload) -> None:
        """Drop what storage still holds at the upload's key once the file is recorded (a copy
        ingest staged, a part PUT late to its URL); the sweeper drops what comes later."""
        try:
            await self.store.abort_parts(upload.storage_key, upload.store_upload_id)
        except OSError:
            log.warning("freeing what is left of direct upload %s failed", upload.id)

    async def _seal(self, upload: DirectUpload, token: str) -> list[StoredPart] | None:
        """Join the parts; the copies joined, or None when an earlier completion had."""
        # Only a seal puts an object at the upload's key (no part URL names it): one there means
        # a completion died after joining the parts, which storage no longer holds.
        joined = None
        if not await self.store.exists(upload.storage_key):
            joined = await self._join(upload)
        async with self.uows.write() as uow:
            await uow.direct_uploads.update_claimed(upload.id, token, sealed=True)
            await uow.commit()
        upload.sealed = True
        return joined

    async def _join(self, upload: DirectUpload) -> list[StoredPart]:
        plan = _plan(upload)
        held = await self._held_parts(upload)
        check = check_parts(plan, ((p.number, p.size) for p in held))
        if not check.complete:
            raise UploadIncomplete(
                f"{len(check.missing)} parts are missing and {len(check.wrong_size)} have the "
                "wrong size; send them and complete again",
                missing_parts=first_problems(check.missing),
                wrong_size_parts=first_problems(check.wrong_size),
                missing_count=len(check.missing),
            )
        planned = [p for p in held if p.number <= plan.part_count]
        try:
            await self.store.seal_parts(upload.storage_key, upload.store_upload_id, planned)
        except ValueError as exc:  # a part was replaced between listing and joining
            raise UploadIncomplete(f"the parts changed while joining them: {exc}") from None
        return planned

    async def _verified(
        self, upload: DirectUpload, declared: str | None, sealed: list[StoredPart] | None
    ) -> Upload:
        """Hash what storage holds (`sealed`: the copies this completion joined) and check it
        against the upload; bytes ingest probes are staged locally on the way."""
        key = upload.storage_key
        head = await self.store.read_head(key, SNIFF_BYTES)
        handler = self.ingest.media.of(sniff(head, filename_hint=upload.filename))
        local = self.store.local_path(key)
        staged: Upload
        if local is not None:
            size, sha256 = await self._hash_local(upload.id, local, sealed)
            staged = StagedUpload(local, upload.filename, size, sha256, head)
        elif handler.probes(upload.size_bytes):
            self.ingest.room.disk.check(upload.size_bytes)  # a local copy to probe
            path = self.store.new_staging_path()
            size, sha256 = await _copy_hashing(self.store.iter_bytes(key), path)
            staged = StagedUpload(path, upload.filename, size, sha256, head)
        else:
            size, sha256 = await _hash_stream(self.store.iter_bytes(key))
            staged = StoredUpload(key, upload.filename, size, sha256, head)
        if size != upload.size_bytes:
            raise SizeMismatch(
                f"storage holds {size:,} bytes; the upload declared {upload.size_bytes:,}",
                declared=upload.size_bytes,
                stored=size,
            )
        if declared is not None and declared != sha256:
            raise ChecksumMismatch(
                "the stored bytes do not have the declared SHA-256; nothing was registered",
                declared=declared,
                stored=sha256,
            )
        return staged

    async def _hash_local(
        self, upload_id: str, path: Path, sealed: list[StoredPart] | None
    ) -> tuple[int, str]:
        """The sealed file's size and SHA-256, hashing on from the parts hashed as they
        arrived when those are copies it was sealed from."""
        prefix = self._prefixes.pop(upload_id, None)
        if prefix is None or not _hashed_from(prefix, sealed):
            prefix = HashedPrefix()
        return await anyio.to_thread.run_sync(_hash_file, path, prefix.digest, prefix.size)

    async def _mark_completed(self, upload: DirectUpload, token: str, file_id: str) -> None:
        async with self.uows.write() as uow:
            await uow.direct_uploads.update_claimed(
                upload.id,
                token,
                state=UploadState.COMPLETED.value,
                claim_token=None,
                file_id=file_id,
                freed_at=_now(),
            )
            await uow.commit()
        upload.state, upload.file_id = UploadState.COMPLETED.value, file_id

    async def _free(self, upload: DirectUpload) -> None:
        """Free the bytes of an upload that will never complete."""
        with anyio.CancelScope(shield=True):
            try:
                await self.store.abort_parts(upload.storage_key, upload.store_upload_id)
            except OSError:
                log.warning("freeing direct upload %s failed; the sweeper retries", upload.id)
                return
            async with self.uows.write() as uow:
                stored = await uow.direct_uploads.get(upload.tenant_id, upload.id)
                if stored is not None and stored.state != UploadState.ACTIVE:
                    stored.freed_at = _now()
                await uow.commit()


def _require_open(upload: DirectUpload, now: datetime) -> None:
    state = upload.state
    if state == UploadState.ACTIVE and upload.expires_at <= now:
        state = UploadState.EXPIRED.value
    if state != UploadState.ACTIVE:
        details = {"image_id": upload.file_id} if upload.file_id else {}
        require_active(state, **details)


def _require_taking_parts(upload: DirectUpload, now: datetime) -> None:
    _require_open(upload, now)
    if upload.state == UploadState.COMPLETING or upload.sealed:
        raise Conflict("this upload is being completed and takes no more parts", retry_after=5)


def _wrong_size(number: int, expected: int, received: int | None) -> PartSizeWrong:
    return PartSizeWrong(
        f"part {number} must be exactly {expected:,} bytes",
        part_number=number,
        expected=expected,
        received=received,
    )


def _plan(upload: DirectUpload) -> PartPlan:
    return PartPlan(upload.size_bytes, upload.part_size)


def _upload_ref(upload_id: str) -> str:
    return f"direct:{upload_id}"


def _options_record(options: UploadOptions) -> dict[str, object]:
    record = asdict(options)
    record["tags"] = list(options.tags)
    return record


def _options_of(upload: DirectUpload) -> UploadOptions:
    record = dict(upload.options)
    record["tags"] = tuple(record.get("tags", ()))
    return UploadOptions(**record)


def _hashed_from(prefix: HashedPrefix, sealed: list[StoredPart] | None) -> bool:
    """Whether `prefix` hashed the first copies of `sealed`, and holds still while it is read."""
    return not prefix.busy and sealed is not None and prefix.parts == sealed[: len(prefix.parts)]


def _hash_file(path: Path, digest: hashlib._Hash, start: int) -> tuple[int, str]:
    """The file's size and SHA-256, `digest` holding its first `start` bytes already."""
    buffer = memoryview(bytearray(HASH_CHUNK))
    size = start
    with path.open("rb", buffering=0) as handle:
        handle.seek(start)
        while got := handle.readinto(buffer):
            digest.update(buffer[:got])
            size += got
    return size, digest.hexdigest()


async def _hash_stream(chunks: AsyncIterator[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    async for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


async def _copy_hashing(chunks: AsyncIterator[bytes], path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    try:
        async with await anyio.open_file(path, "wb") as out:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                await out.write(chunk)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.Path(path).unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)
