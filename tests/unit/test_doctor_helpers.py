"""`scopix doctor`'s pure parts: secrets masked, schema revisions judged, deadlines kept."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from alembic.script import ScriptDirectory
from pydantic import SecretStr

from scopix.server.doctor import (
    MIGRATE_HINT,
    MIGRATIONS,
    Finding,
    Status,
    error_line,
    mask_url,
    schema_finding,
    scrub,
    secret_replacements,
    timed_check,
)
from scopix.server.settings import Settings


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "postgresql+asyncpg://scopix:s3cret@db.internal:5432/scopix",
            "postgresql+asyncpg://scopix:***@db.internal:5432/scopix",
        ),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://user:pa:ss@w@cache/0", "redis://user:***@cache/0"),
        ("postgresql://db/x?user=u&password=s3cret", "postgresql://db/x?user=u&password=***"),
        ("http://vlm/v1?api_key=s3cret&x=1", "http://vlm/v1?api_key=***&x=1"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("sqlite+aiosqlite:////srv/scopix.db", "sqlite+aiosqlite:////srv/scopix.db"),
        (
            "s3://bucket/blobs?endpoint=http://minio:9000&region=eu-west-1",
            "s3://bucket/blobs?endpoint=http://minio:9000&region=eu-west-1",
        ),
        ("http://[::1/v1", "(an unparseable URL)"),
    ],
)
def test_mask_url_hides_passwords_and_secret_parameters_only(url: str, masked: str) -> None:
    assert mask_url(url) == masked


SIGNING_SECRET = "signing-hex-0123456789abcdef0123456789abcdef"


def test_scrub_removes_every_secret_the_settings_hold() -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://scopix:pa%40ss@db/scopix",
        queue_url="redis://:queue-pw@cache/0",
        vlm_base_url="http://vlm/v1",
        vlm_model="m",
        vlm_api_key=SecretStr("sk-vlm"),
        signing_secret=SecretStr(SIGNING_SECRET),
    )
    message = (
        "could not parse 'postgresql+asyncpg://scopix:pa%40ss@db/scopix'; password pa@ss "
        f"refused; redis :queue-pw@cache; key sk-vlm; secret {SIGNING_SECRET}"
    )
    scrubbed = scrub(message, secret_replacements(settings))
    for secret in ("pa%40ss", "pa@ss", "queue-pw", "sk-vlm", SIGNING_SECRET):
        assert secret not in scrubbed
    assert "postgresql+asyncpg://scopix:***@db/scopix" in scrubbed


#: The newest migration: the rules below hold whatever it is.
NEWEST = ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_a_catalog_at_the_newest_revision_is_ok() -> None:
    newest = schema_finding([str(NEWEST)])
    assert newest == Finding(Status.OK, f"schema at {NEWEST} (newest)")


@pytest.mark.parametrize(
    ("current", "says"),
    [
        ([], f"no schema (newest {NEWEST})"),
        (["0005"], f"schema at 0005, behind {NEWEST}"),
    ],
)
def test_a_catalog_behind_says_how_to_migrate(current: list[str], says: str) -> None:
    finding = schema_finding(current)
    assert finding.status is Status.FAILED
    assert says in finding.detail
    assert MIGRATE_HINT in finding.detail


def test_a_catalog_from_a_newer_scopix_is_not_told_to_migrate() -> None:
    finding = schema_finding(["9999"])
    assert finding.status is Status.FAILED
    assert "does not know" in finding.detail
    assert MIGRATE_HINT not in finding.detail


async def test_a_probe_blocked_beyond_reach_of_cancellation_fails_at_its_deadline() -> None:
    async def blocked() -> Finding:
        # A blocking library call, as boto3's connect is: no cancellation reaches it.
        threading.Event().wait(3)
        return Finding(Status.OK, "too late")

    started = time.perf_counter()
    result = await timed_check("storage", "s3://bucket", 0.2, blocked)
    assert time.perf_counter() - started < 1.0
    assert (result.status, result.detail) == (Status.FAILED, "no answer within 0.2 s")
    assert result.target == "s3://bucket"


async def test_a_probe_that_raises_is_a_failed_check() -> None:
    async def refused() -> Finding:
        await asyncio.sleep(0)
        raise ConnectionRefusedError(111, "Connect call failed")

    result = await timed_check("queue", "redis://cache", 5.0, refused)
    assert result.status is Status.FAILED
    assert result.detail == "ConnectionRefusedError: [Errno 111] Connect call failed"


def test_error_line_keeps_the_first_line_only() -> None:
    assert error_line(ValueError("first\nsecond")) == "ValueError: first"
    assert error_line(TimeoutError()) == "TimeoutError"
