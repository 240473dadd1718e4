"""Heartbeats and the liveness judgement, on trio's autojump clock."""

from __future__ import annotations

import trio
import trio.testing

from steno.actors.heartbeat import Heartbeat, Liveness


class Recording(Heartbeat):
    def __init__(self) -> None:
        super().__init__("x", period=1.0)
        self.beats: list[float] = []

    async def beat(self) -> None:
        await super().beat()
        assert self.last is not None
        self.beats.append(self.last)


async def test_idle_beats_every_period_and_returns_when_told(
    autojump_clock: trio.testing.MockClock,
) -> None:
    heart = Recording()
    start = trio.current_time()
    await heart.idle(4.5)
    assert trio.current_time() - start == 4.5
    assert heart.beats == [0.0, 1.0, 2.0, 3.0, 4.0, 4.5]
    event = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_set_later, event, 2.2)
        await heart.idle(100, event.wait)
    assert round(trio.current_time() - start, 6) == 6.7
    assert heart.beats[6:] == [4.5, 5.5, 6.5]


async def _set_later(event: trio.Event, delay: float) -> None:
    await trio.sleep(delay)
    event.set()


async def test_stale_names_the_silent_actor(autojump_clock: trio.testing.MockClock) -> None:
    liveness = Liveness()
    store, query = liveness.heartbeat("store"), liveness.heartbeat("query")
    assert liveness.stale(5) == {}  # not judged before start()
    liveness.start()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.pulse)
        nursery.start_soon(query.pulse)
        await trio.sleep(10)
        assert liveness.stale(5) == {}
        store.hang()
        await trio.sleep(10)
        stale = liveness.stale(5)
        assert list(stale) == ["store"]
        assert 9 <= stale["store"] <= 11  # the beat due at 10 s may or may not be made
        nursery.cancel_scope.cancel()


async def test_a_heart_that_never_beat_is_stale_after_start(
    autojump_clock: trio.testing.MockClock,
) -> None:
    liveness = Liveness()
    liveness.heartbeat("cleanup")
    liveness.start()
    await trio.sleep(6)
    assert list(liveness.stale(5)) == ["cleanup"]


async def test_a_hung_beat_is_cancellable(autojump_clock: trio.testing.MockClock) -> None:
    heart = Heartbeat("x")
    heart.hang()
    with trio.move_on_after(100) as scope:
        await heart.beat()
    assert scope.cancelled_caught
    assert heart.last is None
