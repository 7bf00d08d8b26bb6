"""Tenants and API keys: creating, listing and revoking them, and authenticating requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from scopix.server.catalog.models import ApiKey, Tenant
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.errors import InvalidApiKey, NotFound, PermissionDenied
from scopix.server.domain.ids import new_id
from scopix.server.domain.keys import (
    DEFAULT_SCOPES,
    KeyState,
    PresentedKey,
    generate_key,
    key_state,
    parse_prefix,
    validate_scopes,
)
from scopix.server.domain.tiers import Tier, tier_named

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant, its tier and the key's scopes."""

    tenant_id: str
    tenant_name: str
    tier: Tier
    scopes: frozenset[str]
    key_id: str

    def claim_tenant(self, claimed: str | None) -> None:
        """Refuse a call that names (in `X-Tenant-ID`) a tenant other than the key's own:
        a client configured for one tenant must never act as another by a mixed-up key."""
        if claimed and claimed not in (self.tenant_id, self.tenant_name):
            raise PermissionDenied(
                "this API key belongs to another tenant than X-Tenant-ID names", field="X-Tenant-ID"
            )

    def require(self, scope: str) -> None:
        """Refuse the call unless the key has `scope` (admin implies every scope)."""
        if scope not in self.scopes and "admin" not in self.scopes:
            raise PermissionDenied(f"this API key lacks the {scope!r} scope", scope=scope)


@dataclass(frozen=True)
class CreatedKey:
    """A key just made; `plaintext` is never shown again."""

    plaintext: str
    tenant_name: str
    tier: str
    scopes: tuple[str, ...]
    expires_at: datetime | None = None


@dataclass(frozen=True)
class KeyInfo:
    """What an operator may see of a key: never its secret nor the secret's hash."""

    prefix: str
    tenant_name: str
    name: str | None
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    state: KeyState


class KeyService:
    """Tenant and key administration, and authentication."""

    def __init__(self, uows: UnitOfWorkFactory) -> None:
        self.uows = uows

    async def authenticate(self, presented: PresentedKey) -> Principal:
        """The principal of a presented key, or InvalidApiKey. The key is read afresh on every
        call and nothing is cached, so a revoked or expired key is refused at its next use."""
        async with self.uows.lookup() as uow:
            key = await uow.keys.credentials(presented.prefix)
        if key is None:
            raise InvalidApiKey("the API key is not valid")
        active = key_state(key.revoked_at, key.expires_at, _now()) is KeyState.ACTIVE
        if not active or not presented.matches(key.secret_hash):
            raise InvalidApiKey("the API key is not valid")
        return Principal(
            tenant_id=key.tenant_id,
            tenant_name=key.tenant_name,
            tier=tier_named(key.tier),
            scopes=frozenset(key.scopes.split(",")),
            key_id=key.key_id,
        )

    async def create_key(
        self,
        tenant_name: str,
        *,
        tier: str | None = None,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        key_name: str | None = None,
        expires_at: datetime | None = None,
    ) -> CreatedKey:
        """A new key for `tenant_name`, working until `expires_at` (None: until revoked); a new
        tenant gets `tier` (free by default), an existing one is moved to `tier` when given."""
        if tier is not None:
            tier_named(tier)
        scopes = validate_scopes(scopes)
        async with self.uows.write() as uow:
            tenant = await _tenant(uow, tenant_name, tier)
            created = _add_key(uow, tenant, scopes, key_name, expires_at)
            await uow.commit()
        return created

    async def list_keys(self, tenant_name: str | None = None) -> list[KeyInfo]:
        """Every key, or those of `tenant_name` (NotFound when no tenant has that name)."""
        async with self.uows.read() as uow:
            tenant_id = None
            if tenant_name is not None:
                tenant_id = (await _existing_tenant(uow, tenant_name)).id
            rows = await uow.keys.listed(tenant_id)
        now = _now()
        return [_info(key, name, now) for key, name in rows]

    async def revoke_key(self, prefix: str) -> KeyInfo:
        """Revoke the key whose public prefix is `prefix`, from its next request on. Revoking a
        revoked key changes nothing (it keeps its first revocation time)."""
        async with self.uows.write() as uow:
            key = await uow.keys.get_by_prefix(parse_prefix(prefix))
            if key is None:
                raise NotFound(f"no API key has the prefix {prefix}", prefix=prefix)
            tenant = await uow.tenants.get(key.tenant_id)
            assert tenant is not None, "a key's tenant exists (the foreign key cascades)"
            if key.revoked_at is None:
                key.revoked_at = _now()
            info = _info(key, tenant.name, _now())
            await uow.commit()
        return info

    async def ensure_default_tenant(self) -> CreatedKey | None:
        """On a fresh catalog, create the default tenant and its first key."""
        async with self.uows.write() as uow:
            if await uow.tenants.count() > 0:
                return None
            tenant = await _tenant(uow, DEFAULT_TENANT, "custom")
            created = _add_key(uow, tenant, ("admin", "read", "write"), "first key", None)
            await uow.commit()
        return created


async def _tenant(uow: UnitOfWork, name: str, tier: str | None) -> Tenant:
    tenant = await uow.tenants.get_by_name(name)
    if tenant is None:
        tenant = Tenant(
            id=new_id(), name=name, tier=tier or "free", prepaid_credits=0, created_at=_now()
        )
        await uow.tenants.add(tenant)
    elif tier is not None:
        tenant.tier = tier
    return tenant


async def _existing_tenant(uow: UnitOfWork, name: str) -> Tenant:
    tenant = await uow.tenants.get_by_name(name)
    if tenant is None:
        raise NotFound(f"no tenant is named {name!r}", tenant=name)
    return tenant


def _add_key(
    uow: UnitOfWork,
    tenant: Tenant,
    scopes: tuple[str, ...],
    key_name: str | None,
    expires_at: datetime | None,
) -> CreatedKey:
    new = generate_key()
    uow.keys.add(
        ApiKey(
            id=new_id(),
            tenant_id=tenant.id,
            prefix=new.prefix,
            secret_hash=new.secret_hash,
            scopes=",".join(scopes),
            name=key_name,
            created_at=_now(),
            expires_at=expires_at,
        )
    )
    return CreatedKey(new.plaintext, tenant.name, tenant.tier, scopes, expires_at)


def _info(key: ApiKey, tenant_name: str, now: datetime) -> KeyInfo:
    return KeyInfo(
        prefix=key.prefix,
        tenant_name=tenant_name,
        name=key.name,
        scopes=tuple(key.scopes.split(",")),
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        state=key_state(key.revoked_at, key.expires_at, now),
    )


def _now() -> datetime:
    return datetime.now(UTC)
