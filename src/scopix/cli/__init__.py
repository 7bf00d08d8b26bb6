"""The `scopix` command line."""

from __future__ import annotations

import sys


def main() -> None:
    """Entry point: runs the Typer app, or explains which extra to install."""
    try:
        from scopix.cli.app import app
    except ImportError as exc:  # the CLI needs the `cli` extra (the server commands `server`)
        print(
            f"scopix: missing dependency ({exc.name}); install with: pip install 'scopix[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    app()
