"""The decoder pool (server.isolation) with real child processes: crashes, overruns, limits."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

import isolationtasks as tasks
from scopix.server.domain.errors import ImageTooLarge
from scopix.server.imaging import ImageDecodeError
from scopix.server.isolation import (
    CrashHook,
    DecodeResourceLimit,
    IsolatedPool,
    IsolationLimits,
)

MiB = 1024 * 1024
LIMITS = IsolationLimits(
    address_space_bytes=1536 * MiB, cpu_seconds=30, wall_seconds=30.0, scratch_bytes=8 * MiB
)


@pytest.fixture
async def pool() -> AsyncIterator[IsolatedPool]:
    pool = IsolatedPool(2, 256 * MiB)
    yield pool
    await pool.aclose()


async def test_a_task_runs_in_a_child_that_is_kept_for_the_next(pool: IsolatedPool) -> None:
    import os

    first = await pool.run(tasks.pid, limits=LIMITS, stage="test")
    second = await pool.run(tasks.pid, limits=LIMITS, stage="test")

    assert first != os.getpid()
    assert first == second  # long-lived: no new process per task


async def test_a_crash_is_retried_once_on_a_fresh_child(pool: IsolatedPool, tmp_path: Path) -> None:
    flag = tmp_path / "crashed-once"

    answer = await pool.run(tasks.crash_unless_marked, flag, limits=LIMITS, stage="test")

    assert answer == "second try"
    assert pool.children == 1  # the crashed one is gone


async def test_a_child_that_crashes_twice_is_a_resource_limit_and_the_pool_lives_on(
    pool: IsolatedPool,
) -> None:
    before = await pool.run(tasks.pid, limits=LIMITS, stage="test")

    with pytest.raises(DecodeResourceLimit, match="SIGSEGV"):
        await pool.run(tasks.crash, limits=LIMITS, stage="test")

    after = await pool.run(tasks.pid, limits=LIMITS, stage="test")
    assert after != before  # respawned
    assert pool.children == 1


async def test_a_task_past_its_wall_clock_is_killed(pool: IsolatedPool) -> None:
    short = IsolationLimits(LIMITS.address_space_bytes, 30, 0.5, LIMITS.scratch_bytes)

    with anyio.fail_after(10):
        with pytest.raises(DecodeResourceLimit, match=r"longer than 0\.5 s"):
            await pool.run(tasks.sleep, 60, limits=short, stage="test")

    assert await pool.run(tasks.allocate, 10, limits=LIMITS, stage="test") == 10


async def test_a_task_past_its_cpu_time_is_stopped(pool: IsolatedPool) -> None:
    one_second = IsolationLimits(LIMITS.address_space_bytes, 1, 30.0, LIMITS.scratch_bytes)

    with anyio.fail_after(20):
        with pytest.raises(DecodeResourceLimit, match="CPU time"):
            await pool.run(tasks.spin, limits=one_second, stage="test")


async def test_a_task_past_its_address_space_is_a_resource_limit(pool: IsolatedPool) -> None:
    with pytest.raises(DecodeResourceLimit, match="more than 1536 MiB of memory"):
        await pool.run(tasks.allocate, 2048 * MiB, limits=LIMITS, stage="test")

    assert await pool.run(tasks.allocate, 64 * MiB, limits=LIMITS, stage="test") == 64 * MiB


async def test_a_scratch_file_past_its_bound_kills_the_task(pool: IsolatedPool) -> None:
    with pytest.raises(DecodeResourceLimit, match="scratch"):
        await pool.run(tasks.write_scratch, 16 * MiB, limits=LIMITS, stage="test")


async def test_the_scratch_folder_is_emptied_after_each_task(pool: IsolatedPool) -> None:
    folder = await pool.run(tasks.write_scratch, MiB, limits=LIMITS, stage="test")

    assert await pool.run(tasks.scratch_entries, folder, limits=LIMITS, stage="test") == []


async def test_exceptions_of_the_task_come_back_as_themselves(pool: IsolatedPool) -> None:
    with pytest.raises(ImageDecodeError, match="not a known file format"):
        await pool.run(tasks.refuse_as_corrupt, "not a known file format", limits=LIMITS, stage="t")
    with pytest.raises(ImageTooLarge) as refused:
        await pool.run(tasks.refuse_as_too_large, limits=LIMITS, stage="test")

    assert refused.value.details == {"width": 9, "height": 9, "max_pixels": 80}
    assert pool.children == 1  # an ordinary refusal keeps the child


async def test_an_answer_that_does_not_load_is_an_error_and_its_child_is_replaced(
    pool: IsolatedPool,
) -> None:
    before = await pool.run(tasks.pid, limits=LIMITS, stage="test")

    with pytest.raises(RuntimeError, match="answer is unreadable"):
        await pool.run(tasks.unloadable, limits=LIMITS, stage="test")

    assert await pool.run(tasks.pid, limits=LIMITS, stage="test") != before


async def test_concurrent_tasks_run_side_by_side(pool: IsolatedPool) -> None:
    pids: list[int] = []

    async def one() -> None:
        pids.append(await pool.run(tasks.pid, limits=LIMITS, stage="test"))
        await pool.run(tasks.sleep, 0.3, limits=LIMITS, stage="test")

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(one)

    assert len(pids) == 6
    assert len(set(pids)) <= 2  # never more children than the pool's size


async def test_tasks_beyond_those_a_thread_waits_for_wait_their_turn(pool: IsolatedPool) -> None:
    pids: list[int] = []

    async def one() -> None:  # more at once than the pool's threads: some wait on the loop
        pids.append(await pool.run(tasks.pid, limits=LIMITS, stage="test"))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(one)

    assert len(pids) == 20
    assert len(set(pids)) <= 2 and pool.children <= 2


async def test_tasks_waiting_for_a_child_fail_when_the_pool_closes() -> None:
    pool = IsolatedPool(1, 256 * MiB)
    outcomes: list[str] = []

    async def one() -> None:
        try:
            await pool.run(tasks.sleep, 1.0, limits=LIMITS, stage="test")
            outcomes.append("ran")
        except (RuntimeError, DecodeResourceLimit):
            outcomes.append("failed")

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(one)
            await anyio.sleep(0.5)  # one runs, two wait for its child
            await pool.aclose()
    assert outcomes.count("failed") >= 2


async def test_decodes_that_do_not_fit_the_memory_budget_wait_for_each_other(
    pool: IsolatedPool,
) -> None:
    spans: list[tuple[float, float]] = []

    async def hold() -> None:
        spans.append(await pool.run(tasks.hold_memory, 200 * MiB, 0.5, limits=LIMITS, stage="t"))

    async with anyio.create_task_group() as group:
        group.start_soon(hold)
        group.start_soon(hold)

    (_, first_end), (second_start, _) = sorted(spans)
    assert second_start >= first_end  # 2 x 200 MiB do not fit 256 MiB: one after the other
    assert pool.budget.free == pool.budget.total


async def test_decodes_that_fit_the_memory_budget_overlap(pool: IsolatedPool) -> None:
    spans: list[tuple[float, float]] = []

    async def hold() -> None:
        spans.append(await pool.run(tasks.hold_memory, 100 * MiB, 1.0, limits=LIMITS, stage="t"))

    async with anyio.create_task_group() as group:
        group.start_soon(hold)
        group.start_soon(hold)

    (_, first_end), (second_start, _) = sorted(spans)
    assert second_start < first_end


async def test_the_test_crash_hook_kills_only_marked_files_of_its_stages(tmp_path: Path) -> None:
    marked, plain = tmp_path / "marked.bin", tmp_path / "plain.bin"
    marked.write_bytes(b"header SCOPIX-CRASH trailer")
    plain.write_bytes(b"header trailer")
    pool = IsolatedPool(1, 256 * MiB, crash_hook=CrashHook(b"SCOPIX-CRASH", frozenset({"hit"})))
    try:
        with pytest.raises(DecodeResourceLimit, match=signal.SIGSEGV.name):
            await pool.run(tasks.read_marked, marked, limits=LIMITS, stage="hit")
        assert await pool.run(tasks.read_marked, plain, limits=LIMITS, stage="hit") == 14
        assert await pool.run(tasks.read_marked, marked, limits=LIMITS, stage="other") == 27
    finally:
        await pool.aclose()


async def test_in_process_mode_runs_in_this_process() -> None:
    import os

    pool = IsolatedPool(1, 256 * MiB, isolated=False)
    try:
        assert await pool.run(tasks.pid, limits=LIMITS, stage="test") == os.getpid()
        assert await pool.run(tasks.hold_memory, MiB, 0.0, limits=LIMITS, stage="t")
        assert pool.budget.free == pool.budget.total
    finally:
        await pool.aclose()
