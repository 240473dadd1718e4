"""A NOTIFY_SOCKET of the test's own: what systemd's side of sd_notify sees.

An abstract AF_UNIX datagram socket with SO_PASSCRED, so every message comes
with the sender's pid from the kernel (SCM_CREDENTIALS), as systemd checks it
for ``NotifyAccess=main``.
"""

from __future__ import annotations

import os
import secrets
import select
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import attrs


@attrs.frozen
class Message:
    fields: dict[str, str]
    pid: int | None
    at: float  # time.monotonic() when received

    def __contains__(self, key: str) -> bool:
        return key in self.fields


class NotifyReceiver:
    def __init__(self, path: Path | None = None) -> None:
        """Abstract by default; at `path` for a sender in another network
        namespace (abstract names are per network namespace)."""
        self.name = f"steno-test-notify-{os.getpid()}-{secrets.token_hex(4)}"
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(str(path) if path is not None else b"\0" + self.name.encode())
        self.received: list[Message] = []

    @property
    def env_value(self) -> str:
        """What to put in NOTIFY_SOCKET."""
        return str(self.path) if self.path is not None else "@" + self.name

    @property
    def address(self) -> str | bytes:
        return str(self.path) if self.path is not None else b"\0" + self.name.encode()

    def __enter__(self) -> NotifyReceiver:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.sock.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def _receive(self, timeout: float) -> Message | None:
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return None
        data, ancillary, _flags, _addr = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _uid, _gid = struct.unpack("iii", payload[:12])
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
        message = Message(fields, pid, time.monotonic())
        self.received.append(message)
        return message

    def drain(self) -> list[Message]:
        """Whatever has arrived, without waiting."""
        while self._receive(0) is not None:
            pass
        return self.received

    def wait_for(self, predicate: Callable[[Message], bool], timeout: float) -> Message:
        """The first new message matching `predicate`; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline - time.monotonic())
            if message is None:
                raise AssertionError(
                    f"no matching notification within {timeout} s; got "
                    f"{[m.fields for m in self.received[-10:]]}"
                )
            if predicate(message):
                return message
