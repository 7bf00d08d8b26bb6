"""Key administration against a real catalog (SQLite file and PostgreSQL): a revoked or expired
key is refused at its next request, and the listing tells each key's state, never its secret."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from apiclient import Api
from scopix.server.domain.errors import NotFound, ValidationFailed
from scopix.server.domain.keys import KeyState, hash_secret, parse_key


async def _answer(api: Api, key: str) -> tuple[int, str | None]:
    """The status of a read, and the error code when refused."""
    response = await api.client.get("/api/v2/files", headers=api.auth(key))
    code = response.json()["error"]["code"] if response.status_code >= 400 else None
    return response.status_code, code


async def _write_answer(api: Api, key: str) -> int:
    """The status of a write that carries a JSON body (read only after the key is checked)."""
    response = await api.client.post(
        "/api/v2/files/batch-delete", json={"file_ids": []}, headers=api.auth(key)
    )
    return response.status_code


async def test_a_revoked_key_is_refused_at_its_next_request(api: Api) -> None:
    made = await api.services.keys.create_key("acme", scopes=("read", "write"))
    assert await _answer(api, made.plaintext) == (200, None)
    await api.services.keys.revoke_key(parse_key(made.plaintext).prefix)
    assert await _answer(api, made.plaintext) == (401, "INVALID_API_KEY")
    assert await _write_answer(api, made.plaintext) == 401
    assert await _answer(api, api.key) == (200, None)  # the tenant's other keys still work


async def test_an_expired_key_is_refused(api: Api) -> None:
    now = datetime.now(UTC)
    later = await api.services.keys.create_key("acme", expires_at=now + timedelta(hours=1))
    gone = await api.services.keys.create_key("acme", expires_at=now - timedelta(seconds=1))
    assert await _answer(api, later.plaintext) == (200, None)
    assert await _answer(api, gone.plaintext) == (401, "INVALID_API_KEY")
    assert await _write_answer(api, gone.plaintext) == 401


async def test_a_key_whose_expiry_passes_is_refused_from_then_on(api: Api) -> None:
    made = await api.services.keys.create_key("acme", expires_at=datetime.now(UTC) + timedelta(1))
    assert await _answer(api, made.plaintext) == (200, None)
    # Time passing, without waiting for it: the expiry moves to just now.
    async with api.services.keys.uows.write() as uow:
        key = await uow.keys.get_by_prefix(parse_key(made.plaintext).prefix)
        assert key is not None
        key.expires_at = datetime.now(UTC)
        await uow.commit()
    assert await _answer(api, made.plaintext) == (401, "INVALID_API_KEY")


async def test_the_listing_shows_each_keys_state_and_no_secret(api: Api) -> None:
    keys = api.services.keys
    now = datetime.now(UTC)
    active = await keys.create_key("initech", key_name="ci", expires_at=now + timedelta(days=30))
    revoked = await keys.create_key("initech", scopes=("read",))
    expired = await keys.create_key("initech", expires_at=now - timedelta(minutes=1))
    await keys.revoke_key(parse_key(revoked.plaintext).prefix)

    listed = await keys.list_keys("initech")
    states = {info.prefix: info.state for info in listed}
    assert states == {
        parse_key(active.plaintext).prefix: KeyState.ACTIVE,
        parse_key(revoked.plaintext).prefix: KeyState.REVOKED,
        parse_key(expired.plaintext).prefix: KeyState.EXPIRED,
    }
    first = listed[0]
    assert (first.name, first.scopes, first.tenant_name) == ("ci", ("read", "write"), "initech")
    assert first.expires_at == active.expires_at and first.revoked_at is None
    assert listed[1].revoked_at is not None and listed[1].scopes == ("read",)

    everything = await keys.list_keys()
    assert {info.tenant_name for info in everything} == {"acme", "globex", "initech"}
    shown = repr([asdict(info) for info in everything])
    for made in (active, revoked, expired):
        secret = parse_key(made.plaintext).secret
        assert secret not in shown and hash_secret(secret) not in shown


async def test_revoking_names_a_key_by_its_prefix(api: Api) -> None:
    keys = api.services.keys
    made = await keys.create_key("acme")
    prefix = parse_key(made.plaintext).prefix
    first = await keys.revoke_key(prefix)
    again = await keys.revoke_key(prefix)
    assert first.state is again.state is KeyState.REVOKED
    assert again.revoked_at == first.revoked_at  # a second revocation changes nothing

    with pytest.raises(NotFound):
        await keys.revoke_key("scopix_NoSuchK1")
    with pytest.raises(ValidationFailed):
        await keys.revoke_key(made.plaintext)  # the whole key is not a prefix
    with pytest.raises(NotFound):
        await keys.list_keys("nobody")
