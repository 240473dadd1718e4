"""What systemd passes a service, read from a given environment."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from steno.systemd import (
    journal_stream,
    notify_address,
    service_environment,
    watchdog_usec,
)


def test_notify_address_path_abstract_and_unusable() -> None:
    assert notify_address({"NOTIFY_SOCKET": "/run/systemd/notify"}) == "/run/systemd/notify"
    assert notify_address({"NOTIFY_SOCKET": "@steno/x"}) == b"\0steno/x"
    assert notify_address({}) is None
    assert notify_address({"NOTIFY_SOCKET": "@"}) is None
    assert notify_address({"NOTIFY_SOCKET": "vsock:2:1234"}) is None
    assert notify_address({"NOTIFY_SOCKET": "relative"}) is None


def test_watchdog_only_for_this_process_and_positive() -> None:
    assert watchdog_usec({"WATCHDOG_USEC": "20000000"}, pid=7) == 20_000_000
    assert watchdog_usec({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "7"}, pid=7) == 20_000_000
    assert watchdog_usec({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "8"}, pid=7) is None
    assert watchdog_usec({"WATCHDOG_USEC": "0"}, pid=7) is None
    assert watchdog_usec({"WATCHDOG_USEC": "soon"}, pid=7) is None
    assert watchdog_usec({}, pid=7) is None


def test_journal_stream_must_be_this_very_fd(tmp_path: Path) -> None:
    with open(tmp_path / "log", "w") as f:
        st = os.fstat(f.fileno())
        assert journal_stream({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, fd=f.fileno())
        assert not journal_stream({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, fd=f.fileno())
        assert not journal_stream({"JOURNAL_STREAM": "garbage"}, fd=f.fileno())
        assert not journal_stream({}, fd=f.fileno())


def test_service_environment_reads_once_and_forgets_what_is_ours() -> None:
    a, b = socket.socketpair()
    try:
        env = {
            "LISTEN_PID": "42",
            "LISTEN_FDS": "0",
            "NOTIFY_SOCKET": "@n",
            "WATCHDOG_USEC": "4000000",
            "WATCHDOG_PID": "42",
            "RUNTIME_DIRECTORY": "/run/stenographer",
            "JOURNAL_STREAM": "1:2",
            "PATH": "/usr/bin",
        }
        service = service_environment(env, pid=42)
    finally:
        a.close()
        b.close()
    assert service.notify_address == b"\0n"
    assert service.watchdog_usec == 4_000_000
    assert service.runtime_directory == "/run/stenographer"
    assert service.sockets == ()
    # stenotype, a child, must not see the daemon's notify socket or watchdog.
    assert set(env) == {"RUNTIME_DIRECTORY", "JOURNAL_STREAM", "PATH"}


@pytest.mark.skipif(sys.platform != "linux", reason="Linux only")
def test_listen_sockets_are_taken_from_fd_3(tmp_path: Path) -> None:
    import subprocess
    import textwrap

    code = textwrap.dedent(
        """
        import os, socket
        from steno.systemd import service_environment
        s = service_environment()
        print(len(s.sockets), s.sockets[0].getsockname()[0], "LISTEN_FDS" in os.environ)
        """
    )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        # fd 3 in the child is the listener, as systemd would pass it.
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import os; os.dup2({listener.fileno()}, 3); "
                "os.environ['LISTEN_PID'] = str(os.getpid()); "
                "os.environ['LISTEN_FDS'] = '1'; " + f"exec({code!r})",
            ],
            pass_fds=(listener.fileno(),),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        listener.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "127.0.0.1", "False"]
