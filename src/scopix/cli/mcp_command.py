"""``scopix mcp``: Scopix's tools for an AI agent, as a Model Context Protocol server on
stdio (the ``mcp`` extra). The agent's MCP client starts the command and talks to it over
stdin and stdout; the key and URL come as for every client command."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import typer

from scopix.cli.common import ApiKeyOption, BaseUrlOption, run_client

if TYPE_CHECKING:
    from scopix.client import Scopix


def mcp(api_key: ApiKeyOption = None, base_url: BaseUrlOption = None) -> None:
    """Serve Scopix to an AI agent over stdio (Model Context Protocol): upload, describe,
    search and read files with this key's rights. Stdout carries the protocol only."""
    _require_mcp_extra()
    run_client(api_key, base_url, _serve)


async def _serve(client: Scopix) -> int:
    from scopix.mcp.server import serve_stdio

    await serve_stdio(client)
    return 0


def _require_mcp_extra() -> None:
    """Leave with a one-line hint when the MCP package is not installed."""
    try:
        importlib.import_module("mcp.server.mcpserver")
    except ImportError as exc:
        typer.echo(
            f"error: this command needs the MCP package ({exc.name} is missing); "
            "install with: pip install 'scopix[mcp]'",
            err=True,
        )
        raise typer.Exit(1) from None
