"""The one reader of what systemd passes a service: sockets (``LISTEN_FDS``),
the notification socket (``NOTIFY_SOCKET``) and the watchdog (``WATCHDOG_USEC``).

Reading them in one place keeps environment reads out of the rest of the code
(the daemon passes what it got down explicitly) and lets tests hand in a
fake environment.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

SD_LISTEN_FDS_START = 3


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
