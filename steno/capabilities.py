"""Linux capabilities: who holds CAP_NET_RAW, CAP_NET_ADMIN and CAP_IPC_LOCK, and when.

The design (``docs/systemd.md`` has the long version).  The unit grants the
three capabilities as *ambient* capabilities (``AmbientCapabilities=``, not
file capabilities, which ``NoNewPrivileges=`` would ignore): the daemon starts
with them in its permitted, inheritable, ambient and effective sets, and every
program it executes gets them again through the ambient set.

* The daemon never uses them itself.  At start it clears its **effective**
  set (:func:`drop_effective`), so no system call it makes is privileged, but
  keeps permitted, inheritable and ambient, because the ambient set is what
  hands the capabilities to ``stenotype`` at each (re)start, and the kernel
  allows a capability in the ambient set only while it is both permitted and
  inheritable.  This is a guard against use, not a wall: code running inside
  the daemon could raise its effective set again from the permitted one.  The
  wall is around stenotype, which parses hostile packets:
* ``stenotype`` opens its rings, then drops **everything**
  (:func:`drop_all`: ambient cleared, then effective, permitted and
  inheritable emptied) before it touches a file or a packet, and then applies
  its seccomp filter, which no longer allows ``capset``.

Running as root (no ``User=``) is left as upstream had it: root keeps its
powers (stenotype drops to ``--uid``/``--gid``); :func:`drop_effective` then
does nothing, because root's files and root-owned capture directories would
become unreadable to a root process without CAP_DAC_OVERRIDE.

``capget``/``capset`` act on the calling thread only: call these while the
process has one thread (before ``trio.run``).
"""

from __future__ import annotations

import ctypes
import os

import attrs

_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4

CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
CAP_IPC_LOCK = 14
#: What capture needs: raw packet sockets, interface settings, locked ring memory.
CAPTURE = (1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW) | (1 << CAP_IPC_LOCK)


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_libc = ctypes.CDLL(None, use_errno=True)


@attrs.frozen
class CapabilitySets:
    """A thread's capability sets as bit masks (bit n = capability n)."""

    effective: int
    permitted: int
    inheritable: int
    ambient: int


def _raise_errno(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def current() -> CapabilitySets:
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    if _libc.capget(ctypes.byref(header), data) != 0:
        _raise_errno("capget")
    return CapabilitySets(
        effective=data[0].effective | data[1].effective << 32,
        permitted=data[0].permitted | data[1].permitted << 32,
        inheritable=data[0].inheritable | data[1].inheritable << 32,
        ambient=_ambient(),
    )


def _ambient() -> int:
    """The ambient set, from /proc (prctl can only test one capability at a time)."""
    try:
        with open("/proc/thread-self/status") as status:
            for line in status:
                if line.startswith("CapAmb:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def _set(effective: int, permitted: int, inheritable: int) -> None:
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for i in (0, 1):
        data[i].effective = effective >> (32 * i) & 0xFFFFFFFF
        data[i].permitted = permitted >> (32 * i) & 0xFFFFFFFF
        data[i].inheritable = inheritable >> (32 * i) & 0xFFFFFFFF
    if _libc.capset(ctypes.byref(header), data) != 0:
        _raise_errno("capset")


def drop_effective() -> CapabilitySets:
    """Clears the effective set, keeping what children inherit (not for root)."""
    caps = current()
    if os.geteuid() != 0 and caps.effective:
        _set(0, caps.permitted, caps.inheritable)
    return current()


def drop_all() -> CapabilitySets:
    """Gives up every capability for good: ambient, effective, permitted, inheritable."""
    if _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0:
        _raise_errno("prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
    caps = current()
    if caps.effective or caps.permitted or caps.inheritable:
        _set(0, 0, 0)
    return current()
