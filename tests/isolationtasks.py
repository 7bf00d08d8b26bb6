"""Tasks for the isolation tests: importable by the decoder children (tests/ is on their path)."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

from scopix.server.domain.errors import ImageTooLarge
from scopix.server.imaging import ImageDecodeError
from scopix.server.isolation import reserve_memory


def pid() -> int:
    return os.getpid()


def crash() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def crash_unless_marked(flag: Path) -> str:
    """Crash the first time (leaving `flag` behind), succeed the next."""
    if not flag.exists():
        flag.touch()
        crash()
    return "second try"


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def spin() -> None:
    while True:
        pass


def allocate(nbytes: int) -> int:
    return len(bytearray(nbytes))


def refuse_as_corrupt(message: str) -> None:
    raise ImageDecodeError(message)


def refuse_as_too_large() -> None:
    raise ImageTooLarge("too many pixels", width=9, height=9, max_pixels=80)


def write_scratch(nbytes: int) -> str:
    """Write `nbytes` into one file of the scratch folder; the folder's path."""
    with tempfile.NamedTemporaryFile(delete=False) as handle:
        handle.write(b"\0" * nbytes)
    return tempfile.gettempdir()


def scratch_entries(folder: str) -> list[str]:
    return os.listdir(folder)


def hold_memory(estimate: int, seconds: float) -> tuple[float, float]:
    """Reserve `estimate` bytes and keep them `seconds`: when it held them (monotonic)."""
    reserve_memory(estimate)
    started = time.monotonic()
    time.sleep(seconds)
    return started, time.monotonic()


def read_marked(path: Path) -> int:
    return len(path.read_bytes())


def _refuse_to_load() -> None:
    raise ValueError("this answer cannot be loaded")


class Unloadable:
    """Pickles fine in the child; unpickling it in the parent raises."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_refuse_to_load, ())


def unloadable() -> Unloadable:
    return Unloadable()
