"""The one reader of what systemd passes a service: sockets (``LISTEN_FDS``),
the notification socket (``NOTIFY_SOCKET``), the watchdog (``WATCHDOG_USEC``)
and the journal stream (``JOURNAL_STREAM``).

Reading them in one place keeps environment reads out of the rest of the code
(the daemon passes what it got down explicitly) and lets tests hand in a
fake environment.  :func:`service_environment` reads everything at once and,
like ``sd_notify(unset_environment=1)`` and ``sd_listen_fds(1)``, removes what
belongs to this process alone from ``os.environ``, so that ``stenotype`` (a
child) does not take the daemon's sockets or watchdog for its own.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, MutableMapping

import attrs

SD_LISTEN_FDS_START = 3

_OWN_VARIABLES = (
    "LISTEN_PID",
    "LISTEN_FDS",
    "LISTEN_FDNAMES",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
)


def listen_sockets(
    env: Mapping[str, str] | None = None, *, pid: int | None = None
) -> list[socket.socket]:
    """The stream sockets systemd passed (socket activation), or [] if none.

    As sd_listen_fds(3): only if ``LISTEN_PID`` is this process; the
    variables are then removed from the environment so children (stenotype)
    do not think the sockets are theirs.
    """
    env = os.environ if env is None else env
    if env.get("LISTEN_PID") != str(pid if pid is not None else os.getpid()):
        return []
    try:
        count = int(env.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    sockets = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count):
        os.set_inheritable(fd, False)
        sockets.append(socket.socket(fileno=fd))
    if env is os.environ:
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)
    return sockets


def notify_address(env: Mapping[str, str]) -> str | bytes | None:
    """``NOTIFY_SOCKET`` as an AF_UNIX address for ``sendto``, or None.

    A leading ``@`` names an abstract socket (``\\0`` on the wire).  Other
    kinds systemd may pass in later versions (``vsock:``) are not ours to
    use: None, so the daemon simply does not notify.
    """
    value = env.get("NOTIFY_SOCKET", "")
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def watchdog_usec(env: Mapping[str, str], *, pid: int | None = None) -> int | None:
    """The watchdog timeout in microseconds, if systemd asked this process to ping.

    As sd_watchdog_enabled(3): ``WATCHDOG_USEC`` must be a positive integer and
    ``WATCHDOG_PID``, when set, must be this process.
    """
    owner = env.get("WATCHDOG_PID")
    if owner is not None and owner != str(pid if pid is not None else os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec if usec > 0 else None


def journal_stream(env: Mapping[str, str], *, fd: int = 2) -> bool:
    """True when `fd` (stderr) is the stream systemd connected to journald.

    ``JOURNAL_STREAM`` holds ``<device>:<inode>`` of that stream; checking it
    against `fd` itself (as systemd.exec(5) recommends) tells a redirected
    stderr -- a child of the service run by hand into a file -- apart.
    """
    value = env.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep:
        return False
    try:
        st = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError):
        return False


@attrs.frozen
class ServiceEnvironment:
    """Everything the service manager handed this process."""

    sockets: tuple[socket.socket, ...] = ()
    notify_address: str | bytes | None = None
    watchdog_usec: int | None = None
    journal: bool = False
    runtime_directory: str | None = None


def service_environment(
    env: MutableMapping[str, str] | None = None, *, pid: int | None = None
) -> ServiceEnvironment:
    """Reads the service environment once, then forgets what is this process's alone."""
    env = os.environ if env is None else env
    result = ServiceEnvironment(
        sockets=tuple(listen_sockets(env, pid=pid)),
        notify_address=notify_address(env),
        watchdog_usec=watchdog_usec(env, pid=pid),
        journal=journal_stream(env),
        runtime_directory=env.get("RUNTIME_DIRECTORY") or None,
    )
    for name in _OWN_VARIABLES:
        env.pop(name, None)
    return result
