from __future__ import annotations

import os
import threading

import pytest
import trio

from steno.actors.dedicated_thread import DedicatedThread


async def test_runs_in_one_named_thread_in_order() -> None:
    seen: list[tuple[str, int]] = []
    async with DedicatedThread("index-flush") as thread:
        for i in range(3):
            await thread.run(lambda i=i: seen.append((threading.current_thread().name, i)))  # type: ignore[misc]
    assert seen == [("index-flush", 0), ("index-flush", 1), ("index-flush", 2)]


async def test_nice_applies_to_that_thread_only() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    async with DedicatedThread("niced", nice=5) as thread:
        inside = await thread.run(
            lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )
    assert inside == before + 5
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


async def test_exceptions_come_back_to_the_caller() -> None:
    def boom() -> None:
        raise OSError(28, "No space left on device")

    async with DedicatedThread("t") as thread:
        with pytest.raises(OSError, match="No space left"):
            await thread.run(boom)
        assert await thread.run(lambda: 42) == 42


async def test_cancellation_waits_for_the_running_call() -> None:
    finished = threading.Event()

    def slow() -> None:
        finished.wait(0.2)
        finished.set()

    async with DedicatedThread("t") as thread:
        with trio.move_on_after(0.01):
            await thread.run(slow)
        assert finished.is_set()
