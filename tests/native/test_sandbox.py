"""The seccomp allow-list: enforced for real in a child process."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap


def run_child(mode: str, body: str) -> subprocess.CompletedProcess[str]:
    prologue = (
        "import socket, sys, trio\n"
        "from steno.native.sandbox import apply_sandbox\n"
        f"apply_sandbox({mode!r})\n"
    )
    code = prologue + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_kill_mode_kills_the_process_on_a_forbidden_call() -> None:
    proc = run_child("kill", "socket.socket(socket.AF_INET, socket.SOCK_STREAM)")
    assert proc.returncode == -signal.SIGSYS


def test_a_trio_program_with_threads_runs_inside_the_sandbox() -> None:
    body = """
async def main():
    import os
    r = await trio.to_thread.run_sync(lambda: sum(range(1000)))
    with open(os.devnull, "wb") as f:
        f.write(b"x")
    await trio.sleep(0.01)
    print("ok", r)
trio.run(main)
"""
    proc = run_child("kill", body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok 499500"


def test_other_socket_options_fail_politely() -> None:
    body = """
a, b = socket.socketpair()
a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
try:
    a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
except PermissionError:
    print("refused")
"""
    proc = run_child("kill", body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "refused"


def test_trace_mode_allows_but_none_mode_changes_nothing() -> None:
    for mode in ("trace", "none"):
        proc = run_child(mode, "socket.socket(socket.AF_INET, socket.SOCK_STREAM); print('alive')")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "alive"
