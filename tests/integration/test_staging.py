"""Staging files made ahead of need, on a real file system."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from scopix.server.storage import staging as staging_module
from scopix.server.storage.staging import AHEAD_SUFFIX, StagingFolder


def _made_ahead(staging: StagingFolder, count: int) -> None:
    """Until `count` made files are offered (a file is made, then offered: its existence
    alone does not say a take will get it)."""
    deadline = time.monotonic() + 10
    while len(staging._made) < count:
        assert time.monotonic() < deadline, "files were made ahead"
        time.sleep(0.01)


def test_a_made_file_is_an_empty_file_at_a_fresh_staging_path(tmp_path: Path) -> None:
    staging = StagingFolder(tmp_path / "staging", ahead=3)
    assert staging.made_file() is None  # none made yet: the caller creates its own
    _made_ahead(staging, 3)
    taken = [staging.made_file() for _ in range(3)]
    assert all(path is not None and path.parent == staging.folder for path in taken)
    assert all(path.stat().st_size == 0 for path in taken if path is not None)
    assert len(set(taken)) == 3
    assert sorted(staging.folder.iterdir()) == sorted(p for p in taken if p is not None)
    _made_ahead(staging, 3)  # taking them made more
    assert staging.ahead_folder == tmp_path / f"staging{AHEAD_SUFFIX}"


def test_files_made_by_an_earlier_run_are_used_and_removed_ones_skipped(tmp_path: Path) -> None:
    first = StagingFolder(tmp_path / "staging", ahead=2)
    first.made_file()
    _made_ahead(first, 2)
    left = sorted(first.ahead_folder.iterdir())
    left[0].unlink()  # removed by hand while the server was down
    second = StagingFolder(tmp_path / "staging", ahead=2)
    taken = second.made_file()
    assert taken is not None and taken.exists() and not left[1].exists()


def test_new_paths_are_fresh_and_hold_no_file(tmp_path: Path) -> None:
    staging = StagingFolder(tmp_path / "staging")
    paths = {staging.new_path() for _ in range(100)}
    assert len(paths) == 100
    assert not any(path.exists() for path in paths)


def test_a_broken_staging_folder_gets_no_made_file_and_keeps_them(tmp_path: Path) -> None:
    staging = StagingFolder(tmp_path / "staging", ahead=2)
    staging.made_file()
    _made_ahead(staging, 2)
    staging.folder.rmdir()
    staging.folder.write_bytes(b"not a folder")  # as a failed mount leaves it
    assert staging.made_file() is None  # the upload's own file creation reports the fault
    staging.folder.unlink()
    staging.folder.mkdir()
    taken = staging.made_file()
    assert taken is not None and taken.parent == staging.folder


def _makers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "scopix-staging"]


def test_one_maker_thread_serves_many_takes_and_ends_when_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging_module, "MAKER_IDLE_S", 0.2)
    staging = StagingFolder(tmp_path / "staging", ahead=2)
    staging.made_file()
    maker = staging._maker
    assert maker is not None
    for _ in range(20):
        _made_ahead(staging, 1)
        assert staging.made_file() is not None
        assert staging._maker is maker  # woken, not started again
    maker.join(timeout=10)
    assert not maker.is_alive() and staging._maker is None and maker not in _makers()
    staging.made_file()  # a take after the idle end starts a new maker
    _made_ahead(staging, 2)
    assert staging._maker is not None and staging._maker is not maker
