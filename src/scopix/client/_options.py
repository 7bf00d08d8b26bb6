"""Client settings, from arguments or from ``SCOPIX_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scopix.errors import AuthenticationError, ValidationError

DEFAULT_BASE_URL = "http://127.0.0.1:8080/api/v2"

# environment variable -> (argument, converter)
_ENVIRONMENT: dict[str, tuple[str, type]] = {
    "SCOPIX_API_KEY": ("api_key", str),
    "SCOPIX_BASE_URL": ("base_url", str),
    "SCOPIX_TIMEOUT": ("timeout", float),
    "SCOPIX_MAX_RETRIES": ("max_retries", int),
    "SCOPIX_RETRY_DELAY": ("retry_delay", float),
    "SCOPIX_POLLING_INTERVAL": ("polling_interval", float),
    "SCOPIX_POLLING_TIMEOUT": ("polling_timeout", float),
    "SCOPIX_TENANT_ID": ("tenant_id", str),
    "SCOPIX_PROXY_URL": ("proxy_url", str),
}


@dataclass(frozen=True)
class ClientOptions:
    """Everything a client needs to reach and talk to a Scopix server."""

    api_key: str
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 300.0
    max_retries: int = 3
    retry_delay: float = 1.0
    polling_interval: float = 2.0
    polling_timeout: float = 360.0
    tenant_id: str | None = None
    proxy_url: str | None = None

    @classmethod
    def resolve(cls, api_key: str | None, base_url: str | None, **rest: Any) -> ClientOptions:
        """Fill a missing key and base URL from the environment, then check every value."""
        key = api_key or os.environ.get("SCOPIX_API_KEY")
        if not key:
            raise AuthenticationError(
                "no API key: pass api_key=... or set SCOPIX_API_KEY", code="INVALID_API_KEY"
            )
        url = base_url or os.environ.get("SCOPIX_BASE_URL") or DEFAULT_BASE_URL
        options = cls(api_key=key, base_url=url.rstrip("/") + "/", **rest)
        options.check()
        return options

    def check(self) -> None:
        """Refuse values that could only fail later, and more obscurely."""
        if not self.base_url.startswith(("http://", "https://")):
            raise ValidationError(f"base_url must be an http(s) URL, not {self.base_url!r}")
        for name in ("timeout", "polling_interval", "polling_timeout"):
            if getattr(self, name) <= 0:
                raise ValidationError(f"{name} must be positive")
        if self.max_retries < 0 or self.retry_delay < 0:
            raise ValidationError("max_retries and retry_delay cannot be negative")


def from_environment(environ: Mapping[str, str], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Client arguments from ``SCOPIX_*`` variables, with ``overrides`` taking precedence."""
    found: dict[str, Any] = {}
    for variable, (argument, convert) in _ENVIRONMENT.items():
        raw = environ.get(variable)
        if raw is None or raw == "":
            continue
        try:
            found[argument] = convert(raw)
        except ValueError:
            raise ValidationError(f"{variable}={raw!r} is not a valid {convert.__name__}") from None
    return {**found, **overrides}
