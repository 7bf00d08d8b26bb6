"""Fixtures for end-to-end tests against real server processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scopix.server.testing import ServerProcess, start_server


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[type[object]]:
    started: list[ServerProcess] = []

    class Factory:
        @staticmethod
        def start(
            env: dict[str, str] | None = None,
            data_dir: Path | None = None,
            args: tuple[str, ...] = (),
        ) -> ServerProcess:
            server = start_server(data_dir or tmp_path / "data", env=env, args=args)
            started.append(server)
            return server

    yield Factory
    for server in started:
        server.stop()
