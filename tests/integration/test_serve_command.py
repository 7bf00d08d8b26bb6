"""`scopix serve` as it hands the app to uvicorn (uvicorn itself is not started here)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from scopix.cli.app import app
from scopix.cli.server_commands import SERVER_SWITCH_INTERVAL_S


def test_serve_runs_the_server_with_a_short_thread_switch_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def run(server_app: object, **options: object) -> None:
        seen["interval"] = sys.getswitchinterval()
        seen["port"] = options["port"]

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setenv("SCOPIX_DATA_DIR", str(tmp_path / "data"))
    before = sys.getswitchinterval()
    try:
        result = CliRunner().invoke(app, ["serve", "--port", "8765"])
    finally:
        sys.setswitchinterval(before)
    assert result.exit_code == 0, result.output
    assert seen == {"interval": SERVER_SWITCH_INTERVAL_S, "port": 8765}
    assert "Its API key, shown only this once" in result.output
