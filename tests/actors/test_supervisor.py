"""Restart with backoff, escalation, readiness -- on trio's autojump clock."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from steno.actors.backoff import Backoff
from steno.actors.supervisor import EscalatedFailure, Supervisor


class Flaky:
    """Starts, then fails `failures` times after `alive` seconds each, then stays up."""

    def __init__(self, failures: int, alive: float = 1.0) -> None:
        self.name = "flaky"
        self.failures = failures
        self.alive = alive
        self.starts: list[float] = []

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.starts.append(trio.current_time())
        task_status.started()
        await trio.sleep(self.alive)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("boom")
        await trio.sleep_forever()


def test_backoff_doubles_to_the_cap_and_resets_after_a_good_run() -> None:
    b = Backoff(first=1, cap=8, good_run=60)
    assert [b.after_exit(1) for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    assert b.after_exit(61) == 1


async def test_restarts_with_growing_delays(autojump_clock: trio.testing.MockClock) -> None:
    actor = Flaky(failures=3)
    sup = Supervisor(max_restarts=10, window=600)
    async with trio.open_nursery() as nursery:
        await sup.start(nursery, actor)
        await trio.sleep(100)
        nursery.cancel_scope.cancel()
    gaps = [b - a for a, b in zip(actor.starts, actor.starts[1:], strict=False)]
    assert gaps == [2.0, 3.0, 5.0]  # 1 s alive + 1, 2, 4 s of backoff
    assert sup.restarts == {"flaky": 3}


async def test_escalates_when_failing_too_often(autojump_clock: trio.testing.MockClock) -> None:
    sup = Supervisor(max_restarts=2, window=60, backoff=lambda: Backoff(first=0.1, cap=0.1))
    with pytest.RaisesGroup(pytest.RaisesExc(EscalatedFailure, match="flaky failed 3 times")):
        async with trio.open_nursery() as nursery:
            await sup.start(nursery, Flaky(failures=10))


async def test_a_failure_before_started_is_not_retried(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Broken:
        name = "broken"

        async def run(
            self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
        ) -> None:
            raise OSError("no such interface")

    sup = Supervisor()
    with pytest.RaisesGroup(pytest.RaisesExc(OSError, match="no such interface")):
        async with trio.open_nursery() as nursery:
            await sup.start(nursery, Broken())


async def test_start_returns_once_the_actor_is_up(autojump_clock: trio.testing.MockClock) -> None:
    class Slow:
        name = "slow"
        up = False

        async def run(
            self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
        ) -> None:
            await trio.sleep(5)
            self.up = True
            task_status.started()
            await trio.sleep_forever()

    actor = Slow()
    async with trio.open_nursery() as nursery:
        await Supervisor().start(nursery, actor)
        assert actor.up
        nursery.cancel_scope.cancel()
