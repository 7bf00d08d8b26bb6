"""The data disk's guard reads the disk's usage at most twice a second."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from scopix.server.domain.errors import InsufficientStorage
from scopix.server.services import storage_quota
from scopix.server.services.storage_quota import DiskGuard

GiB = 1 << 30


class _Usage(NamedTuple):
    total: int
    used: int
    free: int


class _Disk:
    """A disk whose free space the test sets, counting how often it is read."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.reads = 0

    def usage(self, path: object) -> _Usage:
        self.reads += 1
        return _Usage(100 * GiB, 100 * GiB - self.free, self.free)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> _Disk:
    fake = _Disk(free=50 * GiB)
    monkeypatch.setattr(shutil, "disk_usage", fake.usage)
    return fake


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(storage_quota.time, "monotonic", fake.monotonic)
    return fake


@pytest.fixture
def guard(disk: _Disk, clock: _Clock, tmp_path: Path) -> DiskGuard:
    """A guard that wants 1 GiB left free."""
    return DiskGuard(tmp_path, min_free_override=GiB)


def test_checks_within_the_ttl_read_the_disk_once(guard: DiskGuard, disk: _Disk) -> None:
    for _ in range(5):
        guard.check(0)
    assert disk.reads == 1


def test_a_disk_that_filled_up_is_refused_once_the_ttl_passed(
    guard: DiskGuard, disk: _Disk, clock: _Clock
) -> None:
    guard.check(GiB)
    disk.free = GiB // 2
    clock.now += DiskGuard.USAGE_TTL_S + 0.01
    with pytest.raises(InsufficientStorage):
        guard.check(0)
    assert disk.reads == 2


def test_incoming_bytes_count_against_the_usage_read_last(guard: DiskGuard, disk: _Disk) -> None:
    guard.check(0)
    with pytest.raises(InsufficientStorage):  # same reading, more bytes than fit
        guard.check(50 * GiB)
    assert disk.reads == 1
