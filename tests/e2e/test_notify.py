"""The daemon's sd_notify messages as a service manager receives them.

The daemon runs under ``systemd-socket-activate`` in a lab namespace with a
NOTIFY_SOCKET of the test's own (tests/support/notify_receiver.py), which sees
every message with the sender's pid from the kernel.  (A real systemd runs
the shipped units in test_systemd_units.py.)"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import statistics
import time
from collections.abc import Iterator

import pytest

from steno.lab.daemon_run import Stenographer
from steno.lab.netns import Lab
from tests.support.notify_receiver import Message, NotifyReceiver

pytestmark = pytest.mark.lab

PORT = 19125
WATCHDOG_USEC = 2_000_000  # pings every second


@pytest.fixture
def receiver(lab: Lab) -> Iterator[NotifyReceiver]:
    # A path, not an abstract name: those are per network namespace.
    with NotifyReceiver(lab.tmpdir / "notify.sock") as r:
        yield r


def gaps(messages: list[Message]) -> list[float]:
    return [b.at - a.at for a, b in itertools.pairwise(messages)]


def test_ready_status_watchdog_cadence_hang_and_stopping(
    lab: Lab, receiver: NotifyReceiver
) -> None:
    activate = shutil.which("systemd-socket-activate")
    assert activate, "systemd-socket-activate is part of systemd"
    d = Stenographer(lab, lab.tmpdir / "steno", port=PORT)
    d.make_certs()
    proc = d.start_socket_activated(
        "-E",
        f"NOTIFY_SOCKET={receiver.env_value}",
        "-E",
        f"WATCHDOG_USEC={WATCHDOG_USEC}",
        "-E",
        "STENO_TEST_HOOKS=1",
    )
    time.sleep(0.5)
    assert receiver.drain() == [], "socket activation is lazy: nothing before a client"
    # The first client starts the daemon and waits for it.
    reply = d.curl("/debug/stats", "--max-time", "40")
    assert reply.returncode == 0, d.log()

    ready = receiver.wait_for(lambda m: "READY" in m, timeout=30)
    # The main process itself (systemd's NotifyAccess=main): socket-activate exec'd it.
    assert ready.pid == proc.pid
    assert ready.fields["STATUS"].startswith("capturing on cap0, 1 thread: ")
    assert "disk free" in ready.fields["STATUS"]

    # Pings at half of WATCHDOG_USEC, from the main process; STATUS every 5 s.
    receiver.wait_for(lambda m: "STATUS" in m and "READY" not in m, timeout=10)
    pings = [m for m in receiver.received if "WATCHDOG" in m]
    assert len(pings) >= 3, [m.fields for m in receiver.received]
    # Every gap within the watchdog timeout (what systemd needs), typically half of it.
    assert all(g < WATCHDOG_USEC / 1e6 for g in gaps(pings)), gaps(pings)
    assert 0.8 <= statistics.median(gaps(pings)) <= 1.3, gaps(pings)
    assert {m.pid for m in receiver.received} == {proc.pid}

    # A hung actor: the pings stop, STATUS says who.
    hang = d.curl("/debug/hang", "-X", "POST", "-d", "cleanup")
    assert hang.returncode == 0 and b"cleanup hangs" in hang.stdout, hang
    warned = receiver.wait_for(
        lambda m: m.fields.get("STATUS", "").startswith("WATCHDOG NOT PINGED"), timeout=10
    )
    assert "cleanup silent for" in warned.fields["STATUS"]
    quiet_from = time.monotonic()
    time.sleep(3)
    receiver.drain()
    assert not [m for m in receiver.received if "WATCHDOG" in m and m.at > quiet_from]
    assert "Not pinging systemd's watchdog: cleanup made no progress" in d.log()

    # SIGTERM: STOPPING=1 first, then a clean exit.
    proc.send_signal(signal.SIGTERM)
    stopping = receiver.wait_for(lambda m: "STOPPING" in m, timeout=10)
    assert stopping.pid == proc.pid
    assert proc.wait(40) == 0, d.log()


def test_an_unreachable_notify_socket_is_not_fatal(lab: Lab) -> None:
    d = Stenographer(lab, lab.tmpdir / "steno", port=PORT + 1)
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(lab.tmpdir / "nobody-listens"),
        "WATCHDOG_USEC": "1000000",
    }
    d.start(env=env)
    time.sleep(2)  # a few pings' worth
    assert d.curl("/debug/stats").returncode == 0
    assert d.log().count("Cannot notify systemd") == 1, d.log()
    # Without the test hook there is no /debug/hang.
    assert b"no such endpoint" in d.curl("/debug/hang", "-X", "POST", "-d", "store").stdout
    assert d.stop() == 0, d.log()
