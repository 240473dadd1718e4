"""Typed wrapper of ``c/sender.h``: sending prepared frames on an interface.

The lab's sender, not a capture path: it needs CAP_NET_RAW and an interface
in the caller's network namespace (``steno.lab.netns.Lab.send`` runs it inside
the lab's namespace).  ``Sender.send`` releases the GIL for the whole send.
"""

from __future__ import annotations

import errno
import os
import threading
from array import array
from collections.abc import Sequence
from typing import Literal

import attrs

from steno.native._steno import ffi, lib

Method = Literal["mmsg", "ring"]
MAX_FRAME: int = lib.STENO_SEND_MAX_FRAME
_METHODS = {"mmsg": lib.STENO_SEND_MMSG, "ring": lib.STENO_SEND_RING}


@attrs.frozen
class SendResult:
    sent: int
    errors: int  # frames the kernel refused for good (skipped)
    retries: int  # ENOBUFS answers (mmsg: retried; ring: frames lost)
    elapsed_ns: int
    last_error: int  # errno of the last refused frame, 0 if none
    timed_out: bool

    @property
    def rate_pps(self) -> float:
        """Frames per second actually achieved."""
        return self.sent * 1e9 / self.elapsed_ns if self.elapsed_ns else 0.0

    def as_dict(self) -> dict[str, int | float | bool]:
        d: dict[str, int | float | bool] = attrs.asdict(self)
        d["rate_pps"] = self.rate_pps
        return d


class Sender:
    """An AF_PACKET socket (PACKET_QDISC_BYPASS) bound to one interface."""

    def __init__(self, ifname: str, *, method: Method = "mmsg") -> None:
        if method not in _METHODS:
            raise ValueError(f"method must be one of {sorted(_METHODS)}")
        out = ffi.new("steno_sender **")
        rc = lib.steno_sender_open(ifname.encode(), _METHODS[method], out)
        if rc < 0:
            raise OSError(-rc, f"opening a sender on {ifname}: {os.strerror(-rc)}")
        self._handle = ffi.gc(out[0], lib.steno_sender_close)
        self._lock = threading.Lock()
        self.ifname = ifname
        self.method = method

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            ffi.release(handle)

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self,
        data: bytes | bytearray | memoryview,
        offsets: Sequence[int],
        *,
        count: int | None = None,
        rate: float | None = None,
        max_seconds: float = 60.0,
        batch: int = 0,
        quantum_us: float = 0.0,
    ) -> SendResult:
        """Sends count frames (default: each once) going round data, where frame
        i is data[offsets[i]:offsets[i+1]]; at rate frames/s if given; for at
        most max_seconds.  Raises OSError if the socket fails; refused frames
        are counted in the result, not raised."""
        if self._handle is None:
            raise ValueError("sender is closed")
        nframes = len(offsets) - 1
        if nframes < 1:
            raise ValueError("no frames to send")
        if max_seconds <= 0:
            raise ValueError("max_seconds must be > 0")
        if not isinstance(offsets, array) or offsets.typecode != "Q":
            offsets = array("Q", offsets)
        if offsets[-1] > len(data):
            raise ValueError("offsets run past the end of data")
        opts = ffi.new("struct steno_send_opts *")
        opts.count = nframes if count is None else count
        opts.rate_pps = 0 if not rate else max(1, round(rate))
        opts.max_ns = int(max_seconds * 1e9)
        opts.quantum_ns = int(quantum_us * 1000)
        opts.batch = batch
        res = ffi.new("struct steno_send_result *")
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("a Sender is used by one thread at a time")
        try:
            with (
                ffi.from_buffer("uint8_t[]", data) as cdata,
                ffi.from_buffer("uint64_t[]", offsets) as coffsets,
            ):
                rc = lib.steno_sender_send(self._handle, cdata, coffsets, nframes, opts, res)
        finally:
            self._lock.release()
        if rc < 0:
            if rc == -errno.EINVAL:
                raise ValueError(f"frames must be 14 to {MAX_FRAME} bytes long")
            raise OSError(-rc, f"sending on {self.ifname}: {os.strerror(-rc)}")
        return SendResult(
            sent=res.sent,
            errors=res.errors,
            retries=res.retries,
            elapsed_ns=res.elapsed_ns,
            last_error=res.last_error,
            timed_out=bool(res.timed_out),
        )
