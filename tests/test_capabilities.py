"""Capabilities for real: a child made into an unprivileged user holding the
three capture capabilities as ambient ones -- what ``AmbientCapabilities=``
gives the daemon -- then the daemon's and stenotype's drops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from steno.capabilities import CAPTURE

# As root: keep capabilities across setuid, become nobody, then hold exactly
# CAPTURE in permitted/inheritable/effective/ambient (systemd does the same).
BECOME_SERVICE_USER = """
import ctypes, json, os, socket, subprocess, sys
from steno import capabilities as caps
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(8, 1, 0, 0, 0)  # PR_SET_KEEPCAPS
os.setgroups([]); os.setgid(65534); os.setuid(65534)
class H(ctypes.Structure): _fields_ = [("v", ctypes.c_uint32), ("pid", ctypes.c_int)]
U32 = ctypes.c_uint32
class D(ctypes.Structure): _fields_ = [("e", U32), ("p", U32), ("i", U32)]
d = (D * 2)(); d[0].e = d[0].p = d[0].i = caps.CAPTURE
assert libc.capset(ctypes.byref(H(0x20080522, 0)), d) == 0, ctypes.get_errno()
for c in (12, 13, 14):
    assert libc.prctl(47, 2, c, 0, 0) == 0, ctypes.get_errno()  # PR_CAP_AMBIENT_RAISE

def packet_socket_here():
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
        return True
    except PermissionError:
        return False

def packet_socket_in_child():
    code = "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)"
    return subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True).returncode == 0

def sets():
    c = caps.current()
    return [c.effective, c.permitted, c.inheritable, c.ambient]
"""


def run_as_service_user(body: str) -> dict[str, object]:
    if os.stat("/").st_mode & 0o001 == 0:
        # A stand-in root unpacked from a mktemp directory (a test chroot) is
        # 0700, and nobody could exec anything at all (as in test_stenotype).
        os.chmod("/", os.stat("/").st_mode | 0o005)
    code = BECOME_SERVICE_USER + textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_the_daemon_keeps_capabilities_for_stenotype_but_cannot_use_them() -> None:
    r = run_as_service_user(
        """
        before = sets()
        can_before = packet_socket_here()
        caps.drop_effective()
        print(json.dumps({
            "before": before, "can_before": can_before,
            "after": sets(), "can_after": packet_socket_here(),
            "child_can": packet_socket_in_child(),
        }))
        """
    )
    assert r["before"] == [CAPTURE] * 4
    assert r["can_before"] is True
    assert r["after"] == [0, CAPTURE, CAPTURE, CAPTURE]
    assert r["can_after"] is False  # the daemon itself: no raw sockets
    assert r["child_can"] is True  # what it starts (stenotype): still can


def test_stenotype_gives_up_everything_for_good() -> None:
    r = run_as_service_user(
        """
        caps.drop_all()
        print(json.dumps({
            "after": sets(), "can": packet_socket_here(), "child_can": packet_socket_in_child(),
        }))
        """
    )
    assert r == {"after": [0, 0, 0, 0], "can": False, "child_can": False}


def test_root_keeps_its_powers() -> None:
    code = (
        "import json; from steno import capabilities as c; "
        "before = c.current(); after = c.drop_effective(); "
        "print(json.dumps(before == after and bool(after.effective)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "true"
