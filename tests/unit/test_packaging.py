"""The SDK stays light: the base install pulls no server dependency."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires

SERVER_ONLY = {"fastapi", "sqlalchemy", "pyvips", "uvicorn", "alembic", "typer"}


def _name(requirement: str) -> str:
    for stop in "<>=[; ":
        requirement = requirement.split(stop)[0]
    return requirement.lower()


def test_base_requirements_are_only_httpx() -> None:
    base = [r for r in requires("scopix") or [] if "extra ==" not in r]
    assert {_name(r) for r in base} == {"httpx"}


def test_server_extra_carries_the_server() -> None:
    server = {
        _name(r) for r in requires("scopix") or [] if "extra == 'server'" in r.replace('"', "'")
    }
    assert server >= SERVER_ONLY - {"typer"}


def test_importing_the_sdk_loads_no_server_module() -> None:
    code = (
        "import sys, scopix; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi', 'sqlalchemy', 'pyvips', 'uvicorn'} or m.startswith('scopix.server')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
