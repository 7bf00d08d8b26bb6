"""What every client command shares: its connection options, and how it runs and fails.

A command builds a coroutine that takes a ``Scopix`` client and returns an exit code;
``run_client`` runs it and turns every way it can end into one line and an exit status:
a ``ScopixError`` is ``error: CODE: message`` and 1, a missing key 2, Ctrl-C 130.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from scopix.errors import ScopixError

if TYPE_CHECKING:
    from scopix.client import Scopix

#: Exit statuses besides 0 (success) and 1 (a failure the server or the files caused).
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: Console width when stdout is a file or a pipe.
PIPE_WIDTH = 200

ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key", envvar="SCOPIX_API_KEY", show_envvar=True, help="the API key to send"
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="SCOPIX_BASE_URL",
        show_envvar=True,
        help="the API's URL, /api/v2 included (default http://127.0.0.1:8080/api/v2)",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="print JSON on stdout and nothing else there")
]

Work = Callable[["Scopix"], Awaitable[int]]


def stdout() -> Console:
    """The console for results. Rich leaves colours out in pipes; there, unless COLUMNS
    says otherwise, lines are as long as a table needs, one file a line where possible."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


def stderr() -> Console:
    """The console for progress displays."""
    return Console(stderr=True)


def error_line(exc: ScopixError) -> str:
    """``error: CODE: message (request id)`` on one line, whatever the message holds."""
    message = _one_line(exc.message)
    line = f"error: {exc.code}: {message}"
    return f"{line} (request {exc.request_id})" if exc.request_id else line


def fail(message: str, status: int = 1) -> NoReturn:
    """Print ``message`` to stderr on its own line and leave with ``status``."""
    typer.echo(message, err=True)
    raise typer.Exit(status)


def run_client(api_key: str | None, base_url: str | None, work: Work) -> None:
    """Run ``work`` with a client built from the options and ``SCOPIX_*`` variables, then
    exit with the status it returns, or with the status its failure calls for."""
    if not api_key:
        fail("error: no API key: pass --api-key or set SCOPIX_API_KEY", EXIT_USAGE)
    try:
        status = asyncio.run(_with_client(api_key, base_url, work))
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except ScopixError as exc:
        fail(error_line(exc))
    except Exception as exc:  # an unreadable file, say: still one line, no traceback
        fail(f"error: {type(exc).__name__}: {_one_line(str(exc))}")
    raise typer.Exit(status)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "no message"


async def _with_client(api_key: str, base_url: str | None, work: Work) -> int:
    from scopix.client import Scopix

    overrides: dict[str, Any] = {"api_key": api_key}
    if base_url:
        overrides["base_url"] = base_url
    async with Scopix.from_env(**overrides) as client:
        return await work(client)
