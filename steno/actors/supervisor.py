"""The supervisor: starts actors, restarts a failed one with backoff, escalates.

Restart policy: an actor whose ``run`` raises is logged and started again
after a delay from :class:`Backoff`; if one actor fails more than
``max_restarts`` times within ``window`` seconds, the supervisor stops
restarting it and raises, so the daemon exits with an error and systemd (with
``Restart=on-failure``) starts it afresh -- a loop inside the process that
cannot make progress should become visible, not spin.  Cancellation is not a
failure: it propagates at once.

Readiness follows trio's start protocol: ``start`` returns only once the
actor called ``task_status.started()``, so when the supervisor itself reports
started, every actor is really up.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from steno.actors.backoff import Backoff

log = logging.getLogger("steno.supervisor")


class Actor(Protocol):
    name: str

    async def run(self, *, task_status: trio.TaskStatus[None] = ...) -> None: ...


class EscalatedFailure(Exception):
    """An actor failed too often; the daemon should exit and be restarted."""


@attrs.define
class _Child:
    actor: Actor
    failures: deque[float] = attrs.Factory(deque)
    restarts: int = 0


@attrs.define
class Supervisor:
    max_restarts: int = 5
    window: float = 60.0
    backoff: Callable[[], Backoff] = Backoff
    on_restart: Callable[[str, BaseException], None] | None = None
    _children: list[_Child] = attrs.Factory(list)

    @property
    def restarts(self) -> dict[str, int]:
        return {c.actor.name: c.restarts for c in self._children}

    async def start(self, nursery: trio.Nursery, actor: Actor) -> None:
        """Starts `actor` under supervision; returns once it has started."""
        child = _Child(actor)
        self._children.append(child)
        await nursery.start(self._supervise, child)

    async def _supervise(self, child: _Child, *, task_status: trio.TaskStatus[None]) -> None:
        backoff = self.backoff()
        status = _Status(task_status)
        while True:
            started_at = trio.current_time()
            try:
                await child.actor.run(task_status=status)
            except Exception as exc:
                if not status.called:
                    raise  # failing before it ever started: set-up is broken
                now = trio.current_time()
                child.failures.append(now)
                while child.failures and child.failures[0] < now - self.window:
                    child.failures.popleft()
                if len(child.failures) > self.max_restarts:
                    raise EscalatedFailure(
                        f"{child.actor.name} failed {len(child.failures)} times in "
                        f"{self.window:.0f} s; giving up: {exc}"
                    ) from exc
                delay = backoff.after_exit(now - started_at)
                log.error(
                    "%s failed (%s: %s); restarting in %.1f s",
                    child.actor.name,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                if self.on_restart is not None:
                    self.on_restart(child.actor.name, exc)
                child.restarts += 1
                await trio.sleep(delay)
            else:
                # An actor that returns has finished its job; that is not a failure.
                return


class _Status:
    """Passes the first ``started()`` on to the supervisor's caller; later runs
    of a restarted actor start again without anyone waiting."""

    def __init__(self, outer: trio.TaskStatus[None]) -> None:
        self._outer = outer
        self.called = False

    def started(self, value: None = None) -> None:
        if not self.called:
            self.called = True
            self._outer.started()
