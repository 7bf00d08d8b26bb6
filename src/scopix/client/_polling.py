"""Waiting for the server: the one polling loop that every ``wait_for_*`` call shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


async def poll(
    fetch: Callable[[], Awaitable[T]],
    settled: Callable[[T], bool],
    *,
    interval: float,
    limit: float,
) -> T | None:
    """``fetch()`` every ``interval`` seconds until ``settled`` says yes, and its answer then;
    None when ``limit`` seconds pass first. The server is polled: it sends no event a
    client here could wait on instead."""
    with anyio.move_on_after(limit):
        while not settled(answer := await fetch()):  # noqa: ASYNC110 - see above
            await anyio.sleep(interval)
        return answer
    return None
