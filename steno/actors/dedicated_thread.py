"""A long-lived OS thread of its own, for work that must not share trio's pool.

``trio.to_thread.run_sync`` reuses pooled threads, so a per-thread setting such
as a nice level would leak into whatever runs there next (a capture loop, say).
Index writing wants ``--index_nicelevel`` applied to it alone, so it runs in a
thread of its own that is started once, niced once, and fed one call at a time.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import outcome
import trio

T = TypeVar("T")

_Job = tuple[Callable[[], Any], trio.lowlevel.TrioToken, Callable[[outcome.Outcome[Any]], None]]


class DedicatedThread:
    """Runs callables one at a time in one named OS thread.  Use ``async with``."""

    def __init__(self, name: str, *, nice: int = 0) -> None:
        self._name = name
        self._nice = nice
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = trio.Lock()

    def _main(self) -> None:
        if self._nice:
            # Lowering a nice level needs privileges; without them, keep the default.
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)
        while (job := self._jobs.get()) is not None:
            fn, token, deliver = job
            result = outcome.capture(fn)
            trio.from_thread.run_sync(deliver, result, trio_token=token)

    async def run(self, fn: Callable[[], T]) -> T:
        """Runs fn() in the thread and returns its result (or raises its exception).

        Cancellation waits for fn to finish: the work in here (sealing a file)
        must not be abandoned half done.
        """
        if self._thread is None:
            raise RuntimeError("DedicatedThread used outside 'async with'")
        async with self._lock:
            done = trio.Event()
            box: list[outcome.Outcome[Any]] = []

            def deliver(result: outcome.Outcome[Any]) -> None:
                box.append(result)
                done.set()

            self._jobs.put((fn, trio.lowlevel.current_trio_token(), deliver))
            with trio.CancelScope(shield=True):
                await done.wait()
            value: T = box[0].unwrap()
            return value

    async def __aenter__(self) -> Self:
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        thread, self._thread = self._thread, None
        self._jobs.put(None)
        if thread is not None:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(thread.join)
