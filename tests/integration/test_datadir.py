"""The data folder on a real file system: private modes, and the signing key kept there."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr

from scopix.server.datadir import (
    SIGNING_KEY_FILE,
    SigningKeyUnusable,
    make_private,
    signing_secret,
)
from scopix.server.settings import Settings


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """Start each test from the usual 022, and give the test process its own umask back."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_and_what_is_made_in_it_are_private(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    make_private(data)
    assert mode(data) == 0o700
    (data / "blobs" / "ab").mkdir(parents=True)
    (data / "blobs" / "ab" / "blob").write_bytes(b"x")
    assert mode(data / "blobs") == mode(data / "blobs" / "ab") == 0o700
    assert mode(data / "blobs" / "ab" / "blob") == 0o600


def test_a_looser_data_folder_is_closed_and_the_log_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="scopix.server.datadir"):
        make_private(data)
    assert mode(data) == 0o700
    assert "was open to other users (mode 0755)" in caplog.text

    caplog.clear()
    make_private(data)  # already private: nothing to say
    assert caplog.text == ""


def test_an_absent_signing_key_is_made_once_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    make_private(settings.data_dir)
    os.umask(0o022)  # the file's mode must not rest on the umask alone
    first = signing_secret(settings)
    path = settings.data_dir / SIGNING_KEY_FILE
    assert len(bytes.fromhex(first.decode())) == 32  # 32 random bytes, in hex
    assert mode(path) == 0o600
    assert signing_secret(settings) == first
    assert sorted(p.name for p in settings.data_dir.iterdir()) == [SIGNING_KEY_FILE]


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: signing_secret(settings), range(8)))
    assert len(keys) == 1
    assert [p.name for p in settings.data_dir.iterdir()] == [SIGNING_KEY_FILE]


@pytest.mark.parametrize("kept", [b"", b"\n", b"0123456789abcdef\n", b"a" * 31])
def test_an_empty_or_truncated_kept_key_is_refused(tmp_path: Path, kept: bytes) -> None:
    settings = Settings(data_dir=tmp_path)
    (tmp_path / SIGNING_KEY_FILE).write_bytes(kept)
    with pytest.raises(SigningKeyUnusable, match="delete the file") as info:
        signing_secret(settings)
    assert "SCOPIX_SIGNING_SECRET" in str(info.value)
    assert (tmp_path / SIGNING_KEY_FILE).read_bytes() == kept  # refused, not replaced


def test_a_configured_secret_wins_and_no_file_is_made(tmp_path: Path) -> None:
    secret = "c" * 40
    settings = Settings(data_dir=tmp_path / "data", signing_secret=SecretStr(secret))
    assert signing_secret(settings) == secret.encode()
    assert not (tmp_path / "data").exists()
