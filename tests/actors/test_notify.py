"""The notify actor against a real NOTIFY_SOCKET, on trio's autojump clock."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest
import trio
import trio.testing

from steno.actors.heartbeat import Liveness
from steno.actors.notify import Notifier, NotifyActor
from tests.support.notify_receiver import NotifyReceiver


def test_notifier_reaches_abstract_and_path_sockets(tmp_path: Path) -> None:
    with NotifyReceiver() as receiver:
        notifier = Notifier(receiver.address)
        assert notifier.send("READY=1\nSTATUS=hello")
        (message,) = receiver.drain()
        assert message.fields == {"READY": "1", "STATUS": "hello"}
        assert message.pid == os.getpid()
        notifier.close()
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(path))
        notifier = Notifier(str(path))
        assert notifier.send("WATCHDOG=1")
        assert s.recv(100) == b"WATCHDOG=1"
        notifier.close()


def test_an_unreachable_socket_is_logged_once_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "steno.notify")
    for address in (str(tmp_path / "nobody-here"), b"\0steno-test-nobody-listens"):
        notifier = Notifier(address)
        assert not notifier.send("READY=1")
        assert not notifier.send("WATCHDOG=1")
        notifier.close()
    warnings = [r for r in caplog.records if "Cannot notify systemd" in r.getMessage()]
    assert len(warnings) == 2  # one per notifier, not one per message


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier(None)
    assert not notifier.enabled
    assert not notifier.send("READY=1")


async def test_ready_status_watchdog_cadence_and_stopping(
    autojump_clock: trio.testing.MockClock,
) -> None:
    liveness = Liveness()
    heart = liveness.heartbeat("store")
    lines = iter(f"line {i}" for i in range(1000))

    async def status() -> str:
        return next(lines)

    with NotifyReceiver() as receiver:
        actor = NotifyActor(
            Notifier(receiver.address),
            liveness,
            status,
            watchdog_usec=10_000_000,
            status_interval=5.0,
        )
        assert actor.watchdog_interval == 5.0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(heart.pulse)
            await nursery.start(actor.run)
            actor.ready()
            await trio.sleep(22)
            actor.stopping()
            nursery.cancel_scope.cancel()
        messages = [m.fields for m in receiver.drain()]
    assert messages[0].get("READY") == "1"
    # READY carries the status computed while starting.
    assert messages[0]["STATUS"] == "line 0"
    assert messages[-1] == {"STOPPING": "1", "STATUS": "stopping: sealing open files"}
    pings = [m for m in messages if "WATCHDOG" in m]
    statuses = [m["STATUS"] for m in messages[1:-1] if "STATUS" in m]
    assert len(pings) == 5  # t = 0, 5, 10, 15, 20
    assert statuses == ["line 1", "line 2", "line 3", "line 4"]


async def test_a_hung_actor_stops_the_pings_and_shows_in_status(
    autojump_clock: trio.testing.MockClock,
) -> None:
    liveness = Liveness()
    store, query = liveness.heartbeat("store"), liveness.heartbeat("query")

    async def status() -> str:
        return "capturing"

    with NotifyReceiver() as receiver:
        actor = NotifyActor(Notifier(receiver.address), liveness, status, watchdog_usec=4_000_000)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.pulse)
            nursery.start_soon(query.pulse)
            await nursery.start(actor.run)
            actor.ready()
            await trio.sleep(10)
            before = actor.pings
            store.hang()
            await trio.sleep(5)
            mid = actor.pings
            await trio.sleep(20)
            after = actor.pings
            nursery.cancel_scope.cancel()
        messages = [m.fields for m in receiver.drain()]
    assert before >= 5
    # The pings due while the store's silence was under 2 s, then none.
    assert mid - before <= 2
    assert after == mid
    warned = [m["STATUS"] for m in messages if m.get("STATUS", "").startswith("WATCHDOG NOT")]
    assert warned
    assert "store silent for" in warned[-1]
    assert "query" not in warned[-1]


async def test_no_watchdog_no_pings(autojump_clock: trio.testing.MockClock) -> None:
    liveness = Liveness()

    async def status() -> str:
        return "capturing"

    with NotifyReceiver() as receiver:
        actor = NotifyActor(Notifier(receiver.address), liveness, status)
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            actor.ready()
            await trio.sleep(30)
            nursery.cancel_scope.cancel()
        assert not [m for m in receiver.drain() if "WATCHDOG" in m]
    assert actor.watchdog_interval is None
