"""Heartbeats: how an actor shows it is still making progress.

The watchdog question is not "is the process alive" -- systemd sees that --
but "is every actor still doing its job".  A trio program can be alive with
one actor stuck for good: awaiting an event nobody will set, or a worker
thread that never comes back from a hung disk.  So each actor beats from the
loop that does its work (the store after each scan, cleanup after each round
of deletions, ...) and beats while idle at least every :data:`PERIOD`
seconds; the notify actor pings systemd's watchdog only while every heartbeat
is recent (``Liveness.stale``), and a hung actor therefore ends in a watchdog
restart of the service.

What a beat proves is what the loop around it does: a beat after a scan
proves scans finish; a beat from an idle wait proves only that the actor's
task is scheduled.  Work that runs in a worker thread does not beat while it
runs, so long work is cut in pieces with a beat between them (cleanup deletes
in batches).

The test hook :meth:`Heartbeat.hang` (reached through the query service's
``/debug/hang``, enabled only by ``STENO_TEST_HOOKS=1``) makes the actor's
next beat block forever -- a real hang of that actor's loop while everything
else goes on, which is what the watchdog must catch.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

log = logging.getLogger("steno.heartbeat")

#: How often an idle actor beats.
PERIOD = 1.0


class Heartbeat:
    """One actor's heartbeat.  Created outside trio; times are trio's clock."""

    def __init__(self, name: str, *, period: float = PERIOD) -> None:
        self.name = name
        self.period = period
        self.last: float | None = None
        self._hang = False

    async def beat(self) -> None:
        """Records progress (a checkpoint; blocks forever if a hang was requested)."""
        if self._hang:
            log.critical("%s: hanging on request (test hook); the watchdog should act", self.name)
            await trio.sleep_forever()
        self.last = trio.current_time()
        await trio.lowlevel.checkpoint()

    async def idle(
        self, seconds: float, until: Callable[[], Awaitable[object]] | None = None
    ) -> None:
        """Waits `seconds` (or until `until()` returns, if given), beating meanwhile.

        `until` is called again after every beat, so it must be safe to
        restart (waiting on an event is).
        """
        with trio.move_on_after(seconds):
            while True:
                await self.beat()
                with trio.move_on_after(self.period):
                    if until is None:
                        await trio.sleep_forever()
                    else:
                        await until()
                        return
        await self.beat()

    async def pulse(self) -> None:
        """Beats every period, forever: for an actor whose work is event-driven
        (a listener), run beside it in the actor's own nursery."""
        while True:
            await self.beat()
            await trio.sleep(self.period)

    def hang(self) -> None:
        """Test hook: the next beat never returns."""
        self._hang = True


class Liveness:
    """The daemon's heartbeats, for the notify actor to judge."""

    def __init__(self) -> None:
        self._hearts: dict[str, Heartbeat] = {}
        self._since: float | None = None

    def heartbeat(self, name: str) -> Heartbeat:
        heart = self._hearts.get(name)
        if heart is None:
            heart = self._hearts[name] = Heartbeat(name)
        return heart

    def __getitem__(self, name: str) -> Heartbeat:
        return self._hearts[name]

    @property
    def names(self) -> list[str]:
        return sorted(self._hearts)

    def start(self) -> None:
        """From now on, a heartbeat that never beat counts as stale."""
        self._since = trio.current_time()

    def stale(self, limit: float) -> dict[str, float]:
        """Actors silent for more than `limit` seconds: name → seconds silent."""
        if self._since is None:
            return {}
        now = trio.current_time()
        out = {}
        for name, heart in self._hearts.items():
            silent = now - (heart.last if heart.last is not None else self._since)
            if silent > limit:
                out[name] = silent
        return out
