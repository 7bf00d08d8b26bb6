"""Scopix for AI agents: a Model Context Protocol server (the ``mcp`` extra).

The tools (tools.py) call the API through the SDK with the caller's key, so an agent can
do what that key can do, and nothing more. ``scopix mcp`` serves them over stdio
(server.py); the API server serves them over streamable HTTP at ``/api/v2/mcp`` (http.py).
"""
