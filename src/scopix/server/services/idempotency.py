"""Idempotency keys: claim one under a lease, keep it alive, store the first response, replay it.

A claim holds the key for a lease (`LEASE` unless configured) renewed every third of it while the
request runs,
so a server killed mid-request frees the key within one lease. The record id outlives take-overs:
the work a request does is stored under it (`File.upload_ref`), and a retry after a crash finds
that work instead of doing it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from scopix.server.catalog.models import IdempotencyKey
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.idempotency import (
    LEASE,
    RETENTION,
    Decision,
    KeyRecord,
    Verdict,
    decide,
)
from scopix.server.domain.ids import new_id

CLAIM_TRIES = 3  # an insert lost to a concurrent request is decided again on the winner's row


@dataclass(frozen=True)
class StoredResponse:
    """The first response to a keyed request, and the hash of the body it answered."""

    status: int
    headers: dict[str, str]
    body: bytes
    body_sha256: str | None


@dataclass(frozen=True)
class Claim:
    """The decision for a keyed request; for NEW and TAKE_OVER, the lease it now holds."""

    verdict: Verdict
    record_id: str | None = None
    token: str | None = None
    #: the body hash on record (an earlier attempt's, or this one's when read ahead)
    body_sha256: str | None = None
    response: StoredResponse | None = None

    @property
    def runs(self) -> bool:
        """Whether this request holds the key and runs."""
        return self.verdict.decision in (Decision.NEW, Decision.TAKE_OVER)


class IdempotencyService:
    """The lifecycle of an idempotency record."""

    def __init__(self, uows: UnitOfWorkFactory, lease: timedelta = LEASE) -> None:
        self.uows = uows
        self.lease = lease
        self.heartbeat_every = lease / 3

    async def claim(
        self, api_key_id: str, tenant_id: str, key: str, signature: str, body_sha256: str | None
    ) -> Claim:
        """Decide what a request presenting `key` with the API key `api_key_id` (of
        `tenant_id`) gets; `body_sha256` when its whole body is already known. Keys are
        per API key: another API key, even of the same tenant, never sees this one's record.
        NEW and TAKE_OVER come back holding the lease."""
        owner = _Owner(api_key_id, tenant_id)
        for _ in range(CLAIM_TRIES):
            try:
                return await self._claim_once(owner, key, signature, body_sha256)
            except IntegrityError:
                continue
        return Claim(Verdict(Decision.BUSY, 1))

    async def _claim_once(
        self, owner: _Owner, key: str, signature: str, body_sha256: str | None
    ) -> Claim:
        now = _now()
        async with self.uows.write() as uow:
            record = await uow.idempotency.lock(owner.api_key_id, key)
            verdict = decide(_key_record(record), signature, now)
            if verdict.decision is Decision.NEW:
                record = await _insert(
                    uow, record, owner, key, signature, body_sha256, now + self.lease
                )
            elif verdict.decision is Decision.TAKE_OVER:
                assert record is not None
                if _bodies_differ(record.body_sha256, body_sha256):
                    return Claim(Verdict(Decision.MISMATCH))
                record.lease_token = new_id()
                record.locked_until = now + self.lease
                record.body_sha256 = record.body_sha256 or body_sha256
            else:
                return Claim(verdict, response=_stored(record))
            await uow.commit()
            return Claim(verdict, record.id, record.lease_token, record.body_sha256)

    async def heartbeat(self, claim: Claim) -> bool:
        """Extend the lease; False when it is no longer this claim's."""
        async with self.uows.write() as uow:
            extended = await uow.idempotency.extend(*_lease(claim), _now() + self.lease)
            await uow.commit()
        return extended

    async def note_body(self, claim: Claim, body_sha256: str) -> None:
        """Record the body's hash as soon as it is known, so that a retry with another body is
        refused even when this attempt dies before finishing."""
        async with self.uows.write() as uow:
            await uow.idempotency.note_body(*_lease(claim), body_sha256)
            await uow.commit()

    async def finish(self, claim: Claim, response: StoredResponse) -> bool:
        """Keep the first response for replay; False when the lease was lost meanwhile."""
        assert response.body_sha256 is not None
        async with self.uows.write() as uow:
            done = await uow.idempotency.finish(
                *_lease(claim),
                status=response.status,
                headers=response.headers,
                body=response.body,
                body_sha256=response.body_sha256,
            )
            await uow.commit()
        return done

    async def release(self, claim: Claim) -> None:
        """Give the key up without a response to keep (5xx, 409, 429, an error, a disconnect).

        The record stays, with its lease ended: a retry takes over at once and continues under
        the same id, so whatever this attempt stored is found rather than stored twice.
        """
        async with self.uows.write() as uow:
            await uow.idempotency.lapse(*_lease(claim), _now())
            await uow.commit()

    async def purge_expired(self) -> int:
        """Delete records past retention; how many."""
        async with self.uows.write() as uow:
            purged = await uow.idempotency.purge_expired(_now())
            await uow.commit()
        return purged


@dataclass(frozen=True)
class _Owner:
    """The API key a record belongs to, and its tenant."""

    api_key_id: str
    tenant_id: str


async def _insert(
    uow: UnitOfWork,
    stale: IdempotencyKey | None,
    owner: _Owner,
    key: str,
    signature: str,
    body_sha256: str | None,
    locked_until: datetime,
) -> IdempotencyKey:
    now = _now()
    if stale is not None:  # past retention: the key starts a new life under a new id
        await uow.idempotency.remove(stale)
    record = IdempotencyKey(
        id=new_id(),
        tenant_id=owner.tenant_id,
        api_key_id=owner.api_key_id,
        key=key,
        request_signature=signature,
        body_sha256=body_sha256,
        state="running",
        lease_token=new_id(),
        locked_until=locked_until,
        created_at=now,
        expires_at=now + RETENTION,
    )
    await uow.idempotency.add(record)
    return record


def _key_record(record: IdempotencyKey | None) -> KeyRecord | None:
    if record is None:
        return None
    return KeyRecord(record.state, record.request_signature, record.locked_until, record.expires_at)


def _stored(record: IdempotencyKey | None) -> StoredResponse | None:
    if record is None or record.state != "done" or record.response_status is None:
        return None
    return StoredResponse(
        record.response_status,
        dict(record.response_headers or {}),
        record.response_body or b"",
        record.body_sha256,
    )


def _bodies_differ(recorded: str | None, presented: str | None) -> bool:
    return recorded is not None and presented is not None and recorded != presented


def _lease(claim: Claim) -> tuple[str, str]:
    assert claim.record_id is not None and claim.token is not None
    return claim.record_id, claim.token


def _now() -> datetime:
    return datetime.now(UTC)
