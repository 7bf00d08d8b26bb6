"""Run decoders of untrusted bytes in child processes with hard limits (ARCHITECTURE.md,
"Untrusted bytes").

`IsolatedPool.run(fn, *args, limits=..., stage=...)` calls `fn(*args)` in one of a few
long-lived children, each a fresh interpreter (spawned, never a fork of the threaded server) that
loads the decoders once and then serves task after task over a socket. Arguments are paths and
small values, the result comes back pickled. Each task runs under an address-space limit
(RLIMIT_AS), a CPU-time limit (RLIMIT_CPU), a file-size limit on its own scratch folder (TMPDIR,
emptied after each task) and a wall clock kept by the parent. A child that crashes, runs out of
memory or overruns is killed and replaced; its task is tried once more on a fresh child, then
fails as `DecodeResourceLimit`. Exceptions `fn` raises come back as themselves.

Concurrent tasks share a memory budget: a task calls `reserve_memory(estimate)` once it knows
from a header what it may take, and waits there until the budget has room.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib
import logging
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Final, TypeVar

import anyio
import anyio.to_thread

from scopix.server.domain.decoding import out_of_memory_reason, reservation, stop_reason

__all__ = [
    "CrashHook",
    "DecodeResourceLimit",
    "IsolatedPool",
    "IsolationLimits",
    "MemoryBudget",
    "reserve_memory",
]

T = TypeVar("T")
log = logging.getLogger("scopix.isolation")

#: Imported by each child as it starts, before its first task.
PRELOAD: Final = ("scopix.server.imaging.checked",)
#: A child's program: it serves tasks on the socket whose descriptor is its argument.
_CHILD_PROGRAM: Final = "from scopix.server.isolation import child_main; child_main()"
#: glibc's mallopt() option for the number of malloc arenas: each thread's arena reserves 64 MiB
#: of address space, which RLIMIT_AS counts although it is never touched.
_M_ARENA_MAX: Final = -8
_STOP_WAIT_S: Final = 5.0


class DecodeResourceLimit(Exception):
    """The task's child crashed, ran out of memory or overran, twice: the input costs too much."""


@dataclass(frozen=True)
class IsolationLimits:
    """What one task may use in its child."""

    address_space_bytes: int
    cpu_seconds: int
    wall_seconds: float
    scratch_bytes: int


@dataclass(frozen=True)
class CrashHook:
    """Test only: a child asked to run a `stages` task on a file that holds `marker` kills
    itself with SIGSEGV, as a decoder bug would."""

    marker: bytes
    stages: frozenset[str]

    def fire_if_marked(self, stage: str, args: Iterable[object]) -> None:
        """Die now when this task's stage is hooked and one of its path arguments is marked."""
        if stage not in self.stages:
            return
        for arg in args:
            if isinstance(arg, Path) and self.marker in arg.read_bytes():
                os.kill(os.getpid(), signal.SIGSEGV)


class MemoryBudget:
    """Bytes of decode memory that concurrent tasks share; taken and given back from threads."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._free = total
        self._changed = threading.Condition()

    @property
    def free(self) -> int:
        """Bytes not reserved now."""
        with self._changed:
            return self._free

    def take(self, estimate: int) -> int:
        """Wait until `estimate` (at most the whole budget) fits, take it; what was taken."""
        amount = reservation(estimate, self.total)
        with self._changed:
            self._changed.wait_for(lambda: amount <= self._free)
            self._free -= amount
        return amount

    def give(self, amount: int) -> None:
        """Give back what `take` returned."""
        if amount:
            with self._changed:
                self._free += amount
                self._changed.notify_all()


class _Gate(threading.local):
    """How the task running on this thread reserves memory: through the child's pipe, or
    straight from the budget when decoding in-process."""

    reserve: Callable[[int], None] | None = None


_gate = _Gate()


def reserve_memory(estimate: int) -> None:
    """Called by a task once it knows its memory estimate: waits until the budget has room.
    Does nothing outside `IsolatedPool.run` (a direct call, as tests make)."""
    if _gate.reserve is not None:
        _gate.reserve(estimate)


@dataclass(frozen=True)
class _Outcome:
    """One attempt's end: "ok" (value), "error" (the exception fn raised) or "stopped"."""

    kind: str
    value: Any


@dataclass(frozen=True)
class _ChildConfig:
    scratch: str
    vips_threads: int
    crash_hook: CrashHook | None


@dataclass(eq=False)  # each child is itself: hashed and compared by identity
class _Child:
    process: subprocess.Popen[bytes]
    conn: Connection
    scratch: Path

    def reap(self, *, kill: bool) -> int | None:
        """Its exit status once gone (negative: the signal), killing it first if asked."""
        if kill and self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(_STOP_WAIT_S)
        return self.process.returncode

    def kill(self) -> None:
        """Kill it (whatever it is doing), reap it and remove its scratch folder."""
        self.reap(kill=True)
        self.conn.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


#: Tasks per child that may wait on a thread of their own for a child to come free: a child
#: that finishes one then starts the next at once, from that thread, instead of waiting for
#: the event loop to hand the slot on (under load the loop took milliseconds to).
_WAITING_PER_CHILD: Final = 3


class IsolatedPool:
    """Up to `size` child processes that run tasks one at a time each.

    With `isolated=False` tasks run in threads of this process instead, with no limit but the
    memory budget: for benchmarks that measure what the isolation costs, never for service.
    """

    def __init__(
        self,
        size: int,
        memory_budget_bytes: int,
        *,
        vips_threads: int = 1,
        crash_hook: CrashHook | None = None,
        isolated: bool = True,
    ) -> None:
        self.size = size
        self.budget = MemoryBudget(memory_budget_bytes)
        self.isolated = isolated
        self._slots = anyio.CapacityLimiter(size)
        self._threads = anyio.CapacityLimiter(size * (1 + _WAITING_PER_CHILD))
        self._vips_threads = vips_threads
        self._crash_hook = crash_hook
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)  # a child came free, or may be started
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()
        self._starting = 0
        self._closed = False
        self._scratch_root: Path | None = None

    async def run(
        self, fn: Callable[..., T], *args: object, limits: IsolationLimits, stage: str
    ) -> T:
        """`fn(*args)` in a child under `limits`; `stage` names the task in logs and for the
        test crash hook. Raises what fn raised, or DecodeResourceLimit after two stopped tries."""
        if not self.isolated:
            return await anyio.to_thread.run_sync(self._in_thread, fn, args, limiter=self._slots)
        reason = ""
        for attempt in (1, 2):
            outcome = await anyio.to_thread.run_sync(
                self._attempt, fn, args, limits, stage, limiter=self._threads
            )
            if outcome.kind == "ok":
                return outcome.value  # type: ignore[no-any-return]
            if outcome.kind == "error":
                raise outcome.value
            reason = str(outcome.value)
            log.warning("%s decode stopped on try %d: %s", stage, attempt, reason)
        raise DecodeResourceLimit(reason)

    async def aclose(self) -> None:
        """Kill every child, idle or busy; tasks in flight fail as stopped."""
        await anyio.to_thread.run_sync(self.close)

    def close(self) -> None:
        """Kill every child, idle or busy, and remove the scratch folders."""
        with self._lock:
            self._closed = True
            children, self._idle = list(self._children), []
            self._children.clear()
            self._freed.notify_all()
        for child in children:
            child.kill()
        if self._scratch_root is not None:
            shutil.rmtree(self._scratch_root, ignore_errors=True)

    @property
    def children(self) -> int:
        """Live children, idle or busy."""
        with self._lock:
            return len(self._children)

    def _in_thread(self, fn: Callable[..., T], args: tuple[object, ...]) -> T:
        taken: list[int] = []
        _gate.reserve = lambda estimate: taken.append(self.budget.take(estimate))
        try:
            return fn(*args)
        finally:
            _gate.reserve = None
            self.budget.give(sum(taken))

    def _attempt(
        self, fn: Callable[..., Any], args: tuple[object, ...], limits: IsolationLimits, stage: str
    ) -> _Outcome:
        child = self._checkout()
        taken: list[int] = []
        try:
            outcome = self._exchange(child, (fn, args, limits, stage), limits, taken)
        finally:
            self.budget.give(sum(taken))
        if outcome.kind == "stopped" or child.process.poll() is not None:
            self._discard(child)
        else:
            self._checkin(child)
        return outcome

    def _exchange(
        self, child: _Child, task: tuple[Any, ...], limits: IsolationLimits, taken: list[int]
    ) -> _Outcome:
        """Send the task and wait for its answer, serving the child's memory reservations; the
        wall clock stops while the child waits for the budget."""
        try:
            child.conn.send(task)
        except OSError:
            return self._stopped(child, limits, overran=False)
        deadline = time.monotonic() + limits.wall_seconds
        while True:
            if not wait([child.conn], max(deadline - time.monotonic(), 0)):
                return self._stopped(child, limits, overran=True)
            try:
                kind, value = child.conn.recv()
            except (EOFError, OSError):
                return self._stopped(child, limits, overran=False)
            except Exception as exc:  # an answer this process cannot unpickle
                child.reap(kill=True)  # its stream is no longer to be trusted
                return _Outcome("error", RuntimeError(f"the decoder's answer is unreadable: {exc}"))
            if kind == "reserve":
                waited_from = time.monotonic()
                taken.append(self.budget.take(value))
                deadline += time.monotonic() - waited_from
                child.conn.send(("go", None))
                continue
            if kind == "oom":
                return _Outcome("stopped", out_of_memory_reason(limits.address_space_bytes))
            return _Outcome(kind, value)

    def _stopped(self, child: _Child, limits: IsolationLimits, *, overran: bool) -> _Outcome:
        exitcode = child.reap(kill=overran)
        reason = stop_reason(exitcode, wall_seconds=limits.wall_seconds, overran=overran)
        return _Outcome("stopped", reason)

    def _checkout(self) -> _Child:
        """An idle child, or a new one while there are fewer than `size`; else wait (on this
        thread) for one to come free."""
        with self._lock:
            while True:
                if self._closed:
                    raise RuntimeError("the decoder pool is closed")
                if self._idle:
                    return self._idle.pop()
                if len(self._children) + self._starting < self.size:
                    break
                self._freed.wait()
            self._starting += 1
            root = self._scratch_root = self._scratch_root or Path(
                tempfile.mkdtemp(prefix="scopix-decode-")
            )
        try:
            child = self._start(root)
        except BaseException:
            with self._lock:
                self._starting -= 1
                self._freed.notify()  # another may try
            raise
        with self._lock:
            self._starting -= 1
            self._children.add(child)
        return child

    def _checkin(self, child: _Child) -> None:
        with self._lock:
            if not self._closed and child in self._children:
                self._idle.append(child)
                self._freed.notify()
                return
        child.kill()

    def _discard(self, child: _Child) -> None:
        with self._lock:
            self._children.discard(child)
            self._freed.notify()  # room for a new child
        child.kill()

    def _start(self, root: Path) -> _Child:
        """A fresh interpreter that imports what this one can (the same sys.path), given its
        settings as the first message on its socket."""
        scratch = Path(tempfile.mkdtemp(prefix="child-", dir=root))
        ours, theirs = socket.socketpair()
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD_PROGRAM, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
        conn = Connection(ours.detach())
        conn.send(_ChildConfig(str(scratch), self._vips_threads, self._crash_hook))
        return _Child(process, conn, scratch)


# ---- in the child ---------------------------------------------------------------------------


def child_main() -> None:
    """A child's life: settle, then run tasks until the parent closes the socket."""
    conn = Connection(int(sys.argv[1]))
    try:
        config: _ChildConfig = conn.recv()
    except (EOFError, OSError):
        return
    _settle(config)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        reply = _run_task(conn, task, config)
        try:
            conn.send(reply)
        except Exception as exc:  # an exception or a result that does not pickle
            conn.send(("error", RuntimeError(f"the decoder's answer does not pickle: {exc}")))


def _settle(config: _ChildConfig) -> None:
    """What holds for every task of this child: scratch folder, no core files, few threads."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    # Python ignores SIGXFSZ (a write past RLIMIT_FSIZE fails instead): a decoder that writes
    # past its scratch bound is stopped like one that runs past its CPU time.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    os.environ["TMPDIR"] = config.scratch
    tempfile.tempdir = None
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = ctypes.util.find_library("c")
    if libc:
        ctypes.CDLL(libc).mallopt(_M_ARENA_MAX, 2)
    for module in PRELOAD:
        importlib.import_module(module)
    import pyvips

    pyvips.concurrency_set(config.vips_threads)


def _run_task(conn: Connection, task: tuple[Any, ...], config: _ChildConfig) -> tuple[str, Any]:
    fn, args, limits, stage = task
    _limit(limits)
    if config.crash_hook is not None:
        config.crash_hook.fire_if_marked(stage, args)
    _gate.reserve = lambda estimate: _ask_for_memory(conn, estimate)
    try:
        return ("ok", fn(*args))
    except MemoryError:
        return ("oom", None)
    except Exception as exc:
        return ("oom", None) if _out_of_memory(exc) else ("error", exc)
    finally:
        _gate.reserve = None
        _empty(Path(config.scratch))


def _limit(limits: IsolationLimits) -> None:
    """Soft limits for the next task; hard limits stay, so that the next task may differ."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_used = int(used.ru_utime + used.ru_stime)
    _soft_limit(resource.RLIMIT_AS, limits.address_space_bytes)
    _soft_limit(resource.RLIMIT_CPU, cpu_used + limits.cpu_seconds)
    _soft_limit(resource.RLIMIT_FSIZE, limits.scratch_bytes)


def _soft_limit(kind: int, value: int) -> None:
    _, hard = resource.getrlimit(kind)
    resource.setrlimit(kind, (value if hard == resource.RLIM_INFINITY else min(value, hard), hard))


def _ask_for_memory(conn: Connection, estimate: int) -> None:
    conn.send(("reserve", estimate))
    conn.recv()


def _out_of_memory(exc: Exception) -> bool:
    """Whether a decoder's error says an allocation failed (libvips reports it as an error)."""
    text = str(exc).lower()
    return "out of memory" in text or "memory allocation failed" in text


def _empty(folder: Path) -> None:
    for entry in folder.iterdir():
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
