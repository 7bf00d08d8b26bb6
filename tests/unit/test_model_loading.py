"""Engines that serve one thread at a time are made once and outlive the threads that used them."""

from __future__ import annotations

import threading

import pytest

from scopix.server.vision.ondevice.loading import Reusable


class Engine:
    """Stands for a tesseract API or a set of cascades: something costly to make."""


def counting() -> tuple[Reusable[Engine], list[Engine]]:
    made: list[Engine] = []

    def make() -> Engine:
        made.append(Engine())
        return made[-1]

    return Reusable(make), made


def in_a_thread_that_ends(engines: Reusable[Engine]) -> Engine:
    """The engine a new thread borrowed, once that thread has ended."""
    used: list[Engine] = []

    def borrow() -> None:
        with engines.borrowed() as engine:
            used.append(engine)

    thread = threading.Thread(target=borrow)
    thread.start()
    thread.join()
    return used[0]


def test_an_engine_warmed_at_start_serves_later_threads() -> None:
    engines, made = counting()
    engines.warm(1)
    assert len(made) == 1
    # anyio ends idle worker threads: the next image comes on a new thread.
    assert in_a_thread_that_ends(engines) is made[0]
    assert in_a_thread_that_ends(engines) is made[0]
    assert engines.made == 1


def test_threads_at_once_each_get_their_own_engine() -> None:
    engines, made = counting()
    engines.warm(2)
    inside = threading.Barrier(2)
    used: list[Engine] = []

    def borrow() -> None:
        with engines.borrowed() as engine:
            used.append(engine)
            inside.wait(timeout=10)  # both hold one at the same time

    threads = [threading.Thread(target=borrow) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(engine) for engine in used}) == 2
    assert len(made) == 2, "both were warmed: no thread made one"


def test_warming_again_makes_only_what_is_missing() -> None:
    engines, made = counting()
    engines.warm(2)
    engines.warm(3)
    engines.warm(1)
    assert len(made) == engines.made == 3


def test_an_engine_that_fails_to_load_is_not_counted() -> None:
    failures = iter([RuntimeError("no model")])

    def make() -> Engine:
        for failure in failures:
            raise failure
        return Engine()

    engines = Reusable(make)
    with pytest.raises(RuntimeError), engines.borrowed():
        pass
    assert engines.made == 0
    with engines.borrowed() as engine:
        assert isinstance(engine, Engine)
    assert engines.made == 1
