"""Dropping root after the capture sockets exist (stenotype's --uid/--gid).

Upstream's rule, kept: a process running as root, or one given --gid/--uid,
switches group and then user; the defaults when running as root are
``nogroup`` and ``nobody``.  ``--uid=root --gid=root`` keeps root.  The sockets
opened before the switch stay usable, which is the point: only set-up needs
CAP_NET_RAW and CAP_IPC_LOCK.  Unlike upstream, supplementary groups are set
from the target user's own (upstream passed a uid as a user name, clearing them).
"""

from __future__ import annotations

import grp
import os
import pwd

import attrs


class PrivilegeError(Exception):
    """The requested user or group does not exist, or the switch was refused."""


@attrs.frozen
class Identity:
    user: str
    group: str
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"{self.user}:{self.group}"


def current_identity() -> Identity:
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return Identity(user, group, uid, gid)


def drop_privileges(user: str, group: str) -> Identity:
    """Switches to `group` and `user` (names) following upstream's rule.

    Returns the identity the process runs as afterwards.
    """
    if os.getgid() == 0 or group:
        name = group or "nogroup"
        try:
            gid = grp.getgrnam(name).gr_gid
        except KeyError:
            raise PrivilegeError(f"--gid={name}: no such group") from None
    else:
        gid = None
    if os.getuid() == 0 or user:
        name = user or "nobody"
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise PrivilegeError(f"--uid={name}: no such user") from None
    else:
        entry = None

    try:
        if entry is not None and os.getuid() == 0:
            # While still root: the target user's supplementary groups.
            os.initgroups(entry.pw_name, gid if gid is not None else entry.pw_gid)
        if gid is not None:
            os.setgid(gid)
        if entry is not None:
            os.setuid(entry.pw_uid)
    except PermissionError as exc:
        raise PrivilegeError(
            f"cannot switch to {user or 'nobody'}:{group or 'nogroup'}: {exc.strerror}"
        ) from None
    return current_identity()
