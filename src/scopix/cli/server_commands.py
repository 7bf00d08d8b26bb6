"""`scopix serve` and `scopix keys create`: they run the server, so they need the
``server`` extra, imported only when one of them runs."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from scopix.server.services.keys import KeyInfo, KeyService
    from scopix.server.services.purge import PurgeReport
    from scopix.server.settings import Settings

T = TypeVar("T")

#: The server's event loop hands blocking work (fsyncs, the decoder children's pipes) to
#: threads, and each must take the interpreter lock to report back: while the loop runs Python
#: it waits up to this long. Python's 5 ms default made every such hop cost milliseconds
#: (bench/uploads.py small, median of 6 alternated runs: 89 -> 101 uploads/s at 1 ms).
SERVER_SWITCH_INTERVAL_S = 0.001


def serve(
    host: Annotated[str | None, typer.Option(help="interface to bind [SCOPIX_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on [SCOPIX_PORT]")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=0, help="job workers in this process, 0 for none [SCOPIX_WORKERS]"),
    ] = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker", help="an API replica: run no jobs here (`scopix worker` runs them)"
        ),
    ] = False,
) -> None:
    """Start the server: create the data folder, migrate, make a first key, serve."""
    _require_server_extra()
    import uvicorn

    from scopix.server.app import create_app
    from scopix.server.http_protocol import bounded_http_protocol
    from scopix.server.log_redaction import uvicorn_log_config

    settings = _settings(host=host, port=port, workers=0 if no_worker else workers)
    _configure_logging(settings)
    _prepare(settings)
    _require_signing_secret(settings)
    first = asyncio.run(_with_keys(settings, lambda keys: keys.ensure_default_tenant()))
    if first is not None:
        typer.echo(f"Created tenant '{first.tenant_name}'. Its API key, shown only this once:")
        typer.echo(first.plaintext)
    url = f"http://{settings.host}:{settings.port}"
    typer.echo(f"Scopix serving on {url} (data: {settings.data_dir})")
    typer.echo(f"Web page: {url}/  API: {url}/api/v2 (docs at /api/v2/docs)")
    sys.setswitchinterval(SERVER_SWITCH_INTERVAL_S)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=uvicorn_log_config(),  # its access log must not keep signed URLs
        http=bounded_http_protocol(
            settings.header_timeout_seconds, settings.body_idle_timeout_seconds
        ),
        # uvicorn counts the arriving connection too: one more lets max_connections be served
        limit_concurrency=settings.max_connections + 1,
    )


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="jobs at once in this process [SCOPIX_WORKERS]"),
    ] = None,
) -> None:
    """Run jobs from the queue (scale-out): a Celery worker on SCOPIX_QUEUE_URL, with the same
    catalog, storage and models as the API processes."""
    _require_server_extra()
    from scopix.server.datadir import make_private
    from scopix.server.jobs.worker import run_worker

    settings = _settings()
    _configure_logging(settings)
    if not settings.queue_url:
        typer.echo("error: set SCOPIX_QUEUE_URL=redis://... (the broker the API uses)", err=True)
        raise typer.Exit(2)
    make_private(settings.data_dir)
    _require_signing_secret(settings)
    run_worker(settings, concurrency or max(settings.workers, 1))


def keys_create(
    tenant: Annotated[str, typer.Option(help="tenant name; created if new")],
    tier: Annotated[
        str | None, typer.Option(help="free, starter, professional, enterprise, custom")
    ] = None,
    scopes: Annotated[
        str | None, typer.Option(help="read, write, admin, comma-separated [default: read,write]")
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="one scope (repeatable), added to --scopes")
    ] = None,
    name: Annotated[str | None, typer.Option(help="a label for the key")] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="when the key stops working: a lifetime (30d, 12h) or a UTC date "
            "(2027-01-31: from 00:00 that day) [default: never]",
        ),
    ] = None,
) -> None:
    """Create an API key and print it once, on a line of its own."""
    _require_server_extra()
    from datetime import UTC, datetime

    from scopix.server.domain.keys import parse_expiry

    listed = scopes.split(",") if scopes is not None else []
    wanted = [name.strip() for name in [*listed, *(scope or ())]]
    created = _run_key_command(
        lambda keys: keys.create_key(
            tenant,
            tier=tier,
            scopes=tuple(wanted or ("read", "write")),
            key_name=name,
            expires_at=parse_expiry(expires, datetime.now(UTC)) if expires is not None else None,
        )
    )
    until = f", until {_instant(created.expires_at)}" if created.expires_at else ""
    typer.echo(
        f"Key for tenant '{created.tenant_name}' "
        f"({created.tier}, {','.join(created.scopes)}{until}):",
        err=True,
    )
    typer.echo(created.plaintext)


def keys_list(
    tenant: Annotated[str | None, typer.Option(help="only this tenant's keys")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print JSON on stdout and nothing else there")
    ] = False,
) -> None:
    """List API keys by their public prefix, with their state (never a secret)."""
    _require_server_extra()
    listed = _run_key_command(lambda keys: keys.list_keys(tenant))
    if as_json:
        import json

        typer.echo(json.dumps([_key_fields(info) for info in listed], indent=2))
    else:
        _print_keys(listed)


def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="the key's public prefix, scopix_ and 8 more")],
) -> None:
    """Revoke an API key: its next request is refused (401 INVALID_API_KEY)."""
    _require_server_extra()
    info = _run_key_command(lambda keys: keys.revoke_key(prefix))
    assert info.revoked_at is not None, "revoke_key returns the key revoked"
    typer.echo(
        f"Key {info.prefix} of tenant '{info.tenant_name}' revoked at {_instant(info.revoked_at)}."
    )


def _key_fields(info: KeyInfo) -> dict[str, object]:
    """A key as `keys list --json` shows it; times in ISO 8601, UTC."""
    return {
        "prefix": info.prefix,
        "tenant": info.tenant_name,
        "name": info.name,
        "scopes": list(info.scopes),
        "created_at": info.created_at.isoformat(),
        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "state": info.state.value,
    }


def _print_keys(listed: list[KeyInfo]) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from scopix.cli.common import stdout

    styles = {"active": "green", "revoked": "red", "expired": "yellow"}
    table = Table(box=box.SIMPLE_HEAD)
    for header in ("prefix", "tenant", "name", "scopes", "created", "expires", "state"):
        table.add_column(header, no_wrap=header != "name")
    for info in listed:
        expires = _instant(info.expires_at) if info.expires_at else "never"
        cells = (info.tenant_name, info.name or "", ",".join(info.scopes))
        # Text, not markup: a tenant or key name may hold square brackets.
        table.add_row(
            info.prefix,
            *(Text(cell) for cell in cells),
            _instant(info.created_at),
            expires,
            Text(info.state.value, styles[info.state.value]),
        )
    console = stdout()
    console.print(table)
    console.print(f"{len(listed)} key(s)", highlight=False)


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def purge(
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            min=0,
            metavar="DAYS",
            help="files deleted more than DAYS days ago [SCOPIX_PURGE_AFTER_DAYS]",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would be removed; remove nothing")
    ] = False,
) -> None:
    """Remove deleted files for good, with the stored bytes no other file names (the server
    does this by itself for files deleted SCOPIX_PURGE_AFTER_DAYS ago)."""
    _require_server_extra()
    from datetime import timedelta

    from scopix.cli.render import human_size

    settings = _settings()
    _prepare(settings)
    days = settings.purge_after_days if older_than is None else older_than
    report = asyncio.run(_purge(settings, timedelta(days=days), dry_run))
    verb = "would remove" if dry_run else "removed"
    typer.echo(
        f"{verb} {report.files} file(s) deleted over {days} day(s) ago and "
        f"{report.blobs} stored blob(s), {human_size(report.bytes)}"
    )


async def _purge(settings: Settings, older_than: timedelta, dry_run: bool) -> PurgeReport:
    from scopix.server.catalog.db import connect
    from scopix.server.catalog.uow import UnitOfWorkFactory
    from scopix.server.services.container import build_store
    from scopix.server.services.purge import Purger

    database = connect(settings.resolved_database_url)
    try:
        purger = Purger(UnitOfWorkFactory(database), build_store(settings))
        return await (purger.preview(older_than) if dry_run else purger.purge(older_than))
    finally:
        await database.dispose()


def _require_server_extra() -> None:
    """Leave with a one-line hint when the server's dependencies are not installed."""
    try:
        for module in ("uvicorn", "scopix.server.settings"):
            importlib.import_module(module)
    except ImportError as exc:
        typer.echo(
            f"error: this command needs the server ({exc.name} is missing); "
            "install with: pip install 'scopix[server]'",
            err=True,
        )
        raise typer.Exit(1) from None


def _configure_logging(settings: Settings) -> None:
    from scopix.server.log_redaction import install_on_root

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s %(message)s"
    )
    install_on_root()  # no signed query string, key or bearer token in any of our logs
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # libvips reports every thread pool it finishes at INFO: a log line per image operation
    logging.getLogger("pyvips").setLevel(logging.WARNING)


def _settings(**overrides: object) -> Settings:
    """The settings, or a line per mistake in them and exit status 2: pydantic's own message
    would quote every setting's value, passwords included."""
    from pydantic import ValidationError

    from scopix.server.settings import Settings

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]  # keys are Settings fields
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"])
            typer.echo(f"error: configuration: {where or 'settings'}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


def _prepare(settings: Settings) -> None:
    """A private data folder (see scopix.server.datadir) and a migrated catalog."""
    from scopix.server.catalog.migrate import upgrade
    from scopix.server.datadir import make_private

    make_private(settings.data_dir)
    upgrade(settings.resolved_database_url)


def _require_signing_secret(settings: Settings) -> None:
    """Leave (exit status 1) rather than serve with a kept signing key too short to use."""
    from scopix.server.datadir import SigningKeyUnusable, signing_secret

    try:
        signing_secret(settings)
    except SigningKeyUnusable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _run_key_command(use: Callable[[KeyService], Awaitable[T]]) -> T:
    """Run a key administration step on the configured catalog; a refusal (an unknown tenant or
    prefix, a bad scope or expiry) prints `error: ...` and exits 2."""
    from scopix.server.domain.errors import DomainError

    settings = _settings()
    try:
        _prepare(settings)
        return asyncio.run(_with_keys(settings, use))
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


async def _with_keys(settings: Settings, use: Callable[[KeyService], Awaitable[T]]) -> T:
    from scopix.server.catalog.db import connect
    from scopix.server.catalog.uow import UnitOfWorkFactory
    from scopix.server.services.keys import KeyService

    database = connect(settings.resolved_database_url)
    try:
        return await use(KeyService(UnitOfWorkFactory(database)))
    finally:
        await database.dispose()


if TYPE_CHECKING:
    from scopix.server.doctor import CheckResult


def doctor(
    as_json: Annotated[
        bool, typer.Option("--json", help="print JSON on stdout and nothing else there")
    ] = False,
) -> None:
    """Check the catalog, storage, queue and vision the configuration names, and say what works
    (exit status 1 when a check failed)."""
    _require_server_extra()
    from scopix.server.doctor import Status, run_checks

    results = asyncio.run(run_checks(_settings()))
    if as_json:
        _print_checks_json(results)
    else:
        _print_checks(results)
    raise typer.Exit(1 if any(result.status is Status.FAILED for result in results) else 0)


def _print_checks(results: list[CheckResult]) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from scopix.cli.common import stdout
    from scopix.server.doctor import Status

    verdicts = {
        Status.OK: Text("ok", "green"),
        Status.WARNING: Text("warning", "yellow"),
        Status.FAILED: Text("FAILED", "bold red"),
        Status.SKIPPED: Text("skipped", "dim"),
    }
    table = Table(box=box.SIMPLE_HEAD)
    for header in ("check", "verdict", "target", "found"):
        table.add_column(header, no_wrap=header in ("check", "verdict"))
    table.add_column("time", justify="right", no_wrap=True)
    for result in results:
        # Text, not markup: what a check found may hold square brackets.
        cells = (Text(result.target), Text(result.detail), Text(f"{result.elapsed_ms} ms"))
        table.add_row(Text(result.name), verdicts[result.status], *cells)
    failed = sum(result.status is Status.FAILED for result in results)
    console = stdout()
    console.print(table)
    console.print(f"{failed} check(s) failed" if failed else "no check failed", highlight=False)


def _print_checks_json(results: list[CheckResult]) -> None:
    import json

    from scopix.server.doctor import Status

    rows = [
        {
            "check": result.name,
            "ok": result.status is not Status.FAILED,
            "status": result.status.value,
            "target": result.target,
            "detail": result.detail,
            "ms": result.elapsed_ms,
        }
        for result in results
    ]
    typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
