"""Typed wrapper of the native capture loop (``c/capture.h``).

One :class:`Capture` owns one ring, its writer and the packet file being
written.  Its methods block (``run`` for up to its deadline, ``finish_file`` for
the writes in flight), so the worker actor calls them through
``trio.to_thread.run_sync``; cffi releases the GIL for the whole call.  Only
:meth:`Capture.request_stop` may be called from another thread.
"""

from __future__ import annotations

import enum
import errno
import os
import threading
from types import TracebackType
from typing import Any, Self

import attrs

from steno.native._steno import ffi, lib


class CaptureError(OSError):
    """Opening the capture failed; ``step`` names the system call that did."""

    def __init__(self, err: int, step: str, iface: str) -> None:
        super().__init__(err, os.strerror(err))
        self.step = step
        self.iface = iface

    def __str__(self) -> str:
        return f"cannot capture on {self.iface}: {self.step}: {self.strerror}"


@attrs.frozen(kw_only=True)
class RingConfig:
    """Geometry and membership of one TPACKET_V3 ring (upstream's stenotype flags)."""

    iface: str
    block_size: int
    block_count: int
    retire_tov_ms: int
    fanout: bool = False
    fanout_type: int = 0
    fanout_id: int = 0
    promisc: bool = True
    lock_memory: bool = True
    bpf: bytes = b""
    """Classic BPF program as packed ``struct sock_filter`` (8 bytes each)."""


@attrs.frozen(kw_only=True)
class CaptureConfig:
    ring: RingConfig
    aio_depth: int
    max_blocks_per_file: int
    index: bool = True
    index_budget_bytes: int = 0
    count: int | None = None


class RunStatus(enum.IntEnum):
    """Why :meth:`Capture.run` returned (``enum steno_run_status``)."""

    DEADLINE = lib.STENO_RUN_DEADLINE
    FILE_FULL = lib.STENO_RUN_FILE_FULL
    INDEX_FULL = lib.STENO_RUN_INDEX_FULL
    WRITE_ERROR = lib.STENO_RUN_WRITE_ERROR
    COUNT_REACHED = lib.STENO_RUN_COUNT_REACHED
    STOPPED = lib.STENO_RUN_STOPPED
    DRAINED = lib.STENO_RUN_DRAINED


@attrs.frozen(kw_only=True)
class CaptureStats:
    packets: int
    blocks: int
    bytes_written: int
    polls: int
    kernel_packets: int
    kernel_drops: int
    kernel_freezes: int
    lost_packets: int
    lost_blocks: int
    write_errors: int
    unindexed_blocks: int
    writes: int
    write_ns_total: int
    write_ns_max: int
    write_latency_log2_us: tuple[int, ...]
    inflight_max: int
    direct_io: bool


@attrs.frozen(kw_only=True)
class StartedFile:
    direct_io: bool
    preallocate_error: int
    """0, or the errno of a failed fallocate (the file is still usable)."""


@attrs.frozen(kw_only=True)
class FinishedFile:
    """A packet file detached from the capture, to be sealed by its new owner."""

    fd: int
    size: int
    """Bytes of good data at the start of the file; truncate to this."""
    packets: int
    blocks: int
    lost_packets: int
    write_error: int
    """0, or the errno of the first write that failed."""
    index: Any
    """The detached native index builder (``steno_index_builder *``) or ``ffi.NULL``."""


def _check(ret: int) -> None:
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret))


class Capture:
    """One capture thread's native loop.  Close it, or use it as a context manager."""

    def __init__(self, config: CaptureConfig) -> None:
        self._lock = threading.Lock()
        self._iface = ffi.new("char[]", config.ring.iface.encode())
        self._bpf = ffi.from_buffer("uint8_t[]", config.ring.bpf) if config.ring.bpf else ffi.NULL
        cfg = ffi.new("struct steno_capture_config *")
        ring = cfg.ring
        ring.iface = self._iface
        ring.block_size = config.ring.block_size
        ring.block_count = config.ring.block_count
        ring.retire_tov_ms = config.ring.retire_tov_ms
        ring.fanout = int(config.ring.fanout)
        ring.fanout_type = config.ring.fanout_type
        ring.fanout_id = config.ring.fanout_id
        ring.promisc = int(config.ring.promisc)
        ring.lock_memory = int(config.ring.lock_memory)
        ring.filter = self._bpf
        ring.filter_len = len(config.ring.bpf) // 8
        cfg.aio_depth = config.aio_depth
        cfg.max_blocks_per_file = config.max_blocks_per_file
        cfg.index = int(config.index)
        cfg.index_budget_bytes = config.index_budget_bytes
        cfg.count = -1 if config.count is None else config.count

        out = ffi.new("steno_capture **")
        step = ffi.new("const char **")
        ret = lib.steno_capture_open(cfg, out, step)
        if ret < 0:
            name = ffi.string(step[0]).decode() if step[0] != ffi.NULL else "open"
            raise CaptureError(-ret, name, config.ring.iface)
        self._handle: Any = ffi.gc(out[0], lib.steno_capture_close)
        self.config = config

    def _enter(self) -> Any:
        if self._handle is None:
            raise ValueError("capture is closed")
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("Capture used from two threads at once")
        return self._handle

    def run(self, deadline_ns: int, *, drain: bool = False) -> RunStatus:
        """Runs the native loop until an event or CLOCK_MONOTONIC reaches deadline_ns."""
        handle = self._enter()
        try:
            status = ffi.new("int *")
            _check(
                lib.steno_capture_run(
                    handle, deadline_ns, lib.STENO_RUN_DRAIN if drain else 0, status
                )
            )
            return RunStatus(status[0])
        finally:
            self._lock.release()

    def start_file(self, path: str | os.PathLike[str], preallocate_bytes: int = 0) -> StartedFile:
        handle = self._enter()
        try:
            direct = ffi.new("int *")
            prealloc_err = ffi.new("int *")
            ret = lib.steno_capture_start_file(
                handle, os.fsencode(path), preallocate_bytes, direct, prealloc_err
            )
            if ret < 0:
                raise OSError(-ret, os.strerror(-ret), os.fspath(path))
            return StartedFile(direct_io=bool(direct[0]), preallocate_error=-prealloc_err[0])
        finally:
            self._lock.release()

    def finish_file(self) -> FinishedFile:
        handle = self._enter()
        try:
            out = ffi.new("struct steno_finished_file *")
            _check(lib.steno_capture_finish_file(handle, out))
            return FinishedFile(
                fd=out.fd,
                size=out.size,
                packets=out.packets,
                blocks=out.blocks,
                lost_packets=out.lost_packets,
                write_error=-out.write_error,
                index=out.index,
            )
        finally:
            self._lock.release()

    def request_stop(self) -> None:
        """Makes a running (or the next) :meth:`run` return STOPPED.  Thread-safe."""
        if self._handle is not None:
            lib.steno_capture_request_stop(self._handle)

    def stats(self) -> CaptureStats:
        handle = self._enter()
        try:
            st = ffi.new("struct steno_capture_stats *")
            ret = lib.steno_capture_stats(handle, st)
            if ret < 0 and -ret != errno.EBADF:
                _check(ret)
            return CaptureStats(
                packets=st.packets,
                blocks=st.blocks,
                bytes_written=st.bytes_written,
                polls=st.polls,
                kernel_packets=st.kernel_packets,
                kernel_drops=st.kernel_drops,
                kernel_freezes=st.kernel_freezes,
                lost_packets=st.lost_packets,
                lost_blocks=st.lost_blocks,
                write_errors=st.write_errors,
                unindexed_blocks=st.unindexed_blocks,
                writes=st.writes,
                write_ns_total=st.write_ns_total,
                write_ns_max=st.write_ns_max,
                write_latency_log2_us=tuple(st.write_latency_log2_us),
                inflight_max=st.inflight_max,
                direct_io=bool(st.direct_io),
            )
        finally:
            self._lock.release()

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with self._lock:
                ffi.release(handle)  # runs steno_capture_close now, not at GC

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
