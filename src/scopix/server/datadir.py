"""The data folder is the server user's alone, and so is the signing key kept in it.

One mechanism rather than a mode at every `open`: the processes that write there (`scopix serve`,
`scopix worker`, `scopix keys`, and an app's lifespan) set the umask to 077, so every folder
they create is 0700 and every file 0600: the SQLite database and its -wal/-shm, blobs,
variants, staging files, direct-upload parts, the signing key.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import uuid
from pathlib import Path

from scopix.server.domain.signing import MIN_SECRET_BYTES
from scopix.server.settings import Settings

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
SIGNING_KEY_FILE = "signing.key"


class SigningKeyUnusable(Exception):
    """The kept signing key is too short to sign with: the server must not start."""


def make_private(data_dir: Path) -> None:
    """Set the process's umask to 077 for the rest of its life, and create `data_dir` (0700),
    or close a looser existing one to group and others."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & 0o077:
        data_dir.chmod(mode & ~0o077)
        log.warning(
            "the data folder %s was open to other users (mode %04o); it is now closed to them: "
            "files made before keep their modes, but no other user can reach them any more",
            data_dir,
            mode,
        )


def signing_secret(settings: Settings) -> bytes:
    """The key that signs local part URLs and image links: the configured one (Settings has
    checked its length), else one kept in the data folder so that URLs stay valid across
    restarts, made on first use. A kept key that is empty or short (a truncated file) is
    refused, not replaced: replacing it would quietly void every URL handed out with it."""
    if settings.signing_secret is not None:
        return settings.signing_secret.get_secret_value().encode()
    path = settings.data_dir / SIGNING_KEY_FILE
    try:
        kept = path.read_bytes().strip()
    except FileNotFoundError:
        kept = _create_key(path)
    if len(kept) < MIN_SECRET_BYTES:
        raise SigningKeyUnusable(
            f"the signing key {path} holds {len(kept)} bytes, under the {MIN_SECRET_BYTES} "
            "a key needs: delete the file to have a new one made (URLs signed with the old one "
            "stop working), or set SCOPIX_SIGNING_SECRET"
        )
    return kept


def _create_key(path: Path) -> bytes:
    """Write a new random key to `path`, whole or not at all: written and fsynced under a
    temporary name (0600), then linked into place, which fails when another process made the
    key first; then the key at `path`, whichever process made it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        # another process (a worker, a replica) may have made it first: then theirs is used
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()
    _fsync_folder(path.parent)
    return path.read_bytes().strip()


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
