"""The notify actor: tells systemd how the daemon is (sd_notify(3)).

* ``READY=1`` once every actor has started (the supervisor's start protocol
  makes that mean: the store has scanned, stenotype is capturing, the query
  listener accepts), together with the first ``STATUS=``.
* ``STATUS=<one line>`` (see ``status.py``) every ``status_interval`` seconds,
  so ``systemctl status stenographer`` shows capture rate, drops, the oldest
  packet kept and free disk space.
* ``WATCHDOG=1`` every ``WATCHDOG_USEC / 2``, but only while every actor's
  heartbeat is younger than that (``heartbeat.py``; or than
  :data:`MIN_STALE` seconds, if that is longer: an idle actor beats once a
  second, and a busy one a little later, so a very short watchdog must not
  take that for a hang).  A hung actor therefore
  stops the pings, and systemd (``WatchdogSec=``) kills and restarts the
  service: a restart is the one remedy that works for a task stuck for good.
  The missing pings are logged, with the actor's name, and shown in STATUS.
* ``STOPPING=1`` when a stop is requested (SIGTERM), before stenotype seals
  its files -- which can take a while, and systemd then shows "deactivating".

No ``RELOADING=1``: the daemon has no reload; ``systemctl restart`` (the
socket unit keeps the query port open meanwhile) is the way to apply a new
configuration.

The protocol (:class:`Notifier`) is a datagram of ``KEY=VALUE`` lines sent to
the AF_UNIX socket named by ``NOTIFY_SOCKET`` (``@`` for the abstract
namespace); systemd learns the sender's pid from the socket credentials.
Sending never raises: a socket that is set but unreachable (systemd gone, a
wrong path) is logged once and then retried quietly at each message, so the
daemon goes on capturing -- without pings a real watchdog will restart it
anyway.  Sends are non-blocking (a full receive queue drops that one message).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable

import trio

from steno.actors.heartbeat import PERIOD, Liveness

log = logging.getLogger("steno.notify")

MIN_STALE = 3 * PERIOD


class Notifier:
    """Sends sd_notify messages to one address; a no-op without one."""

    def __init__(self, address: str | bytes | None) -> None:
        self.address = address
        self._sock: socket.socket | None = None
        self._failing = False
        self.sent = 0
        if address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, message: str) -> bool:
        """Sends `message` (``KEY=VALUE`` lines); True if the socket took it."""
        if self._sock is None or self.address is None:
            return False
        try:
            self._sock.sendto(message.encode("utf-8", "replace"), self.address)
        except OSError as exc:
            if not self._failing:
                log.warning(
                    "Cannot notify systemd at %s (%s); going on without",
                    _printable(self.address),
                    os.strerror(exc.errno) if exc.errno else exc,
                )
                self._failing = True
            return False
        if self._failing:
            log.warning("Notifying systemd at %s works again", _printable(self.address))
            self._failing = False
        self.sent += 1
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _printable(address: str | bytes) -> str:
    if isinstance(address, bytes):
        return "@" + address[1:].decode(errors="replace")
    return address


def _one_line(text: str) -> str:
    return " ".join(text.split())


class NotifyActor:
    name = "notify"

    def __init__(
        self,
        notifier: Notifier,
        liveness: Liveness,
        status: Callable[[], Awaitable[str]],
        *,
        watchdog_usec: int | None = None,
        status_interval: float = 5.0,
    ) -> None:
        self._notifier = notifier
        self._liveness = liveness
        self._status = status
        self._watchdog = watchdog_usec / 1e6 if watchdog_usec else None
        self._status_interval = status_interval
        self._line = "starting"
        self._stale: dict[str, float] = {}
        self._ready = trio.Event()
        self.pings = 0

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between pings (half the watchdog timeout), if systemd wants pings."""
        return self._watchdog / 2 if self._watchdog else None

    def _status_text(self) -> str:
        if self._stale:
            hung = ", ".join(f"{n} silent for {s:.0f} s" for n, s in sorted(self._stale.items()))
            return _one_line(f"WATCHDOG NOT PINGED: {hung}; {self._line}")
        return _one_line(self._line)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._line = await self._status()
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._status_loop)
            if self.watchdog_interval is not None:
                nursery.start_soon(self._watchdog_loop, self.watchdog_interval)

    def ready(self) -> None:
        """Every actor runs: READY=1, and from now on heartbeats are judged."""
        self._liveness.start()
        self._ready.set()
        self._notifier.send(f"READY=1\nSTATUS={self._status_text()}")

    def stopping(self) -> None:
        self._line = "stopping: sealing open files"
        self._notifier.send(f"STOPPING=1\nSTATUS={self._status_text()}")

    async def _status_loop(self) -> None:
        while True:
            await trio.sleep(self._status_interval)
            self._line = await self._status()
            if self._ready.is_set():
                self._notifier.send(f"STATUS={self._status_text()}")

    async def _watchdog_loop(self, interval: float) -> None:
        await self._ready.wait()
        while True:
            stale = self._liveness.stale(max(interval, MIN_STALE))
            if not stale:
                if self._stale:
                    log.warning("Every actor makes progress again; pinging the watchdog")
                    self._stale = {}
                    self._notifier.send(f"STATUS={self._status_text()}")
                if self._notifier.send("WATCHDOG=1"):
                    self.pings += 1
            else:
                if set(stale) != set(self._stale):
                    log.error(
                        "Not pinging systemd's watchdog: %s",
                        ", ".join(
                            f"{n} made no progress for {s:.0f} s" for n, s in sorted(stale.items())
                        ),
                        extra={"STENO_HUNG": ",".join(sorted(stale))},
                    )
                self._stale = stale
                self._notifier.send(f"STATUS={self._status_text()}")
            await trio.sleep(interval)
