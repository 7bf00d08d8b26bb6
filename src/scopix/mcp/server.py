"""``scopix mcp``: the tools over stdio, for an agent that starts Scopix as its subprocess.

One client serves every call, with the key the command was given: the process belongs to
one user, who may also upload files from this machine by path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scopix.mcp.tools import build_server

if TYPE_CHECKING:
    from scopix.client import Scopix


async def serve_stdio(client: Scopix) -> None:
    """Answer MCP requests on stdin/stdout with ``client`` until stdin closes."""
    server = build_server(lambda _context: client, local_files=True)
    await server.run_stdio_async()
