"""The worker actor: drives one capture thread's native loop and rotates its files.

The native loop (``Capture.run``) does all per-block work with the GIL
released and comes back at least every quarter second; this actor decides what
happens then: rotate (age, size, index budget), log the stats line, recover
from a failed write, stop.  A finished file is handed to the index flusher
with a :class:`SealFile` message; the worker has already opened the next file,
so the ring is never left unread while a file is being sealed.

Error handling: a failed write (disk full, I/O error) does not stop capture.
The file is cut at its last good block and sealed, packets keep flowing
through the ring (counted as lost while they cannot be stored) and a new file
is tried after a backoff (1 s, doubling to 30 s).  Anything else the native
loop reports (the interface went away) is raised and ends the program.

Shutdown: cancellation (SIGTERM) is noticed within a poll interval; the worker
then drains what the kernel already holds -- waiting at most one block retire
timeout for the partly filled block -- and seals the last file, shielded from
the cancellation but bounded in time.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time

import attrs
import trio

from steno.actors.messages import SealFile
from steno.actors.stenotype.rotation import RotationPolicy
from steno.native.capture import Capture, CaptureStats, FinishedFile, RunStatus
from steno.native.index import IndexBuilder
from steno.store.naming import NameClock, ThreadDirs, hidden

log = logging.getLogger("steno.stenotype")

RETRY_FIRST_NS = 1_000_000_000


class CaptureFailed(Exception):
    """The ring itself failed (the interface went away); this thread cannot go on."""


RETRY_MAX_NS = 30_000_000_000


@attrs.frozen(kw_only=True)
class StatsSchedule:
    """Upstream's -v stats line: every `blocks` blocks or `seconds`, whichever first (0 = off)."""

    blocks: int
    seconds: int


class CaptureWorker:
    def __init__(
        self,
        *,
        thread: int,
        dirs: ThreadDirs,
        capture: Capture,
        policy: RotationPolicy,
        seal: trio.MemorySendChannel[SealFile],
        block_size: int,
        retire_tov_ns: int,
        preallocate_bytes: int = 0,
        stats: StatsSchedule = StatsSchedule(blocks=100, seconds=60),
    ) -> None:
        self.thread = thread
        self.dirs = dirs
        self.capture = capture
        self.policy = policy
        self._seal = seal
        self._out = seal
        self._block_size = block_size
        self._retire_tov_ns = retire_tov_ns
        self._preallocate = preallocate_bytes
        self._stats = stats
        self._names = NameClock()
        self._name: str | None = None
        self._opened_ns = 0
        self._retry_at_ns = 0
        self._retry_ns = RETRY_FIRST_NS
        self._failing = False
        self._started_ns = time.monotonic_ns()
        self._stats_at_ns = self._started_ns
        self._stats_blocks = 0
        self.files_sealed = 0
        self.last_progress_ns = self._started_ns
        """When the native loop last came back; the watchdog reads it."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        # Our own end of the flusher's channel: the flusher stops once every
        # worker that ran has closed its end, after its last file.
        async with self._seal.clone() as self._out:
            try:
                await self._open_file()
                task_status.started()
                await self._loop()
            finally:
                with trio.CancelScope(shield=True) as scope:
                    scope.deadline = trio.current_time() + self._retire_tov_ns / 1e9 + 30
                    await self._finish(final=True)

    async def _loop(self) -> None:
        while True:
            now = time.monotonic_ns()
            if self._name is None:
                deadline = min(self._retry_at_ns, now + self.policy.poll_ns)
            else:
                deadline = self.policy.deadline(self._opened_ns, now)
            try:
                status = await trio.to_thread.run_sync(self.capture.run, deadline)
            except OSError as exc:
                raise CaptureFailed(
                    f"thread {self.thread}: capture on {self.capture.config.ring.iface} failed: "
                    f"{exc.strerror}"
                ) from None
            now = time.monotonic_ns()
            self.last_progress_ns = now
            self._maybe_log_stats(now)

            if status in (RunStatus.STOPPED, RunStatus.COUNT_REACHED):
                if status is RunStatus.COUNT_REACHED:
                    log.info("Thread %d reached --count, finishing", self.thread)
                return
            if status is RunStatus.WRITE_ERROR:
                await self._write_failed()
            elif self._name is None:
                if now >= self._retry_at_ns:
                    await self._open_file()
            elif self.policy.due(self._opened_ns, now, status):
                log.debug("Rotating file %s (%s)", self._name, status.name)
                await self._finish(final=False)
                await self._open_file()

    async def _open_file(self) -> None:
        name = self._names.next_name(time.time_ns())
        path = self.dirs.packet_path(hidden(name))
        try:
            started = await trio.to_thread.run_sync(
                self.capture.start_file, path, self._preallocate
            )
        except OSError as exc:
            self._schedule_retry(f"cannot create packet file {path}: {exc.strerror}")
            return
        if started.preallocate_error:
            log.warning(
                "Thread %d: could not preallocate %s: %s",
                self.thread,
                path,
                os.strerror(started.preallocate_error),
            )
        if not started.direct_io:
            log.warning(
                "Thread %d: %s does not support O_DIRECT; writing through the page cache",
                self.thread,
                path,
            )
        self._name = name
        self._opened_ns = time.monotonic_ns()
        if self._failing:
            log.warning("Thread %d: writing again, to %s", self.thread, path)
        log.info("Opening packet file %s", path)

    def _schedule_retry(self, why: str) -> None:
        self._failing = True
        log.error(
            "Thread %d: %s; packets are counted as lost until a new file can be written "
            "(next try in %.0f s)",
            self.thread,
            why,
            self._retry_ns / 1e9,
        )
        self._retry_at_ns = time.monotonic_ns() + self._retry_ns
        self._retry_ns = min(self._retry_ns * 2, RETRY_MAX_NS)

    async def _write_failed(self) -> None:
        name = self._name
        finished = await self._finish(final=False)
        error = os.strerror(finished.write_error) if finished else "unknown error"
        self._schedule_retry(f"write to packet file {name} failed: {error}")

    async def _finish(self, *, final: bool) -> FinishedFile | None:
        """Detaches the current file (draining the kernel first if final) and hands it over."""
        if final and self._name is not None:
            deadline = time.monotonic_ns() + self._retire_tov_ns + 200_000_000
            # If the ring is gone (that is why we stop), seal what was written.
            with contextlib.suppress(OSError):
                await trio.to_thread.run_sync(lambda: self.capture.run(deadline, drain=True))
        if self._name is None:
            return None
        name, self._name = self._name, None
        finished = await trio.to_thread.run_sync(self.capture.finish_file)
        index = IndexBuilder.adopt(finished.index, self._block_size) if finished.index else None
        if finished.write_error == 0 and self._failing and not final:
            self._failing = False
            self._retry_ns = RETRY_FIRST_NS
        if finished.lost_packets:
            log.error(
                "Thread %d: %d packets of %s could not be stored (%s)",
                self.thread,
                finished.lost_packets,
                name,
                os.strerror(finished.write_error or errno.EIO),
            )
        await self._out.send(
            SealFile(
                dirs=self.dirs,
                name=name,
                fd=finished.fd,
                size=finished.size,
                packets=finished.packets,
                lost_packets=finished.lost_packets,
                write_error=finished.write_error,
                index=index,
            )
        )
        self.files_sealed += 1
        return finished

    def _maybe_log_stats(self, now_ns: int) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        stats = self.capture.stats()
        by_blocks = self._stats.blocks and stats.blocks - self._stats_blocks >= self._stats.blocks
        by_time = self._stats.seconds and now_ns - self._stats_at_ns >= self._stats.seconds * 1e9
        if not (by_blocks or by_time):
            return
        self._stats_blocks = stats.blocks
        self._stats_at_ns = now_ns
        log.info(
            "%s",
            stats_line(
                self.thread,
                stats.blocks,
                self._block_size,
                now_ns - self._started_ns,
                stats.packets,
                stats.polls,
                stats.kernel_drops,
            ),
        )
        log.info("%s", disk_line(self.thread, stats))


def stats_line(
    thread: int, blocks: int, block_size: int, elapsed_ns: int, packets: int, polls: int, drops: int
) -> str:
    """Upstream's per-thread stats line, which Security Onion and others parse."""
    mb = blocks * block_size // (1024 * 1024)
    secs = max(elapsed_ns / 1e9, 1e-9)
    drop_pct = drops * 100.0 / (drops + packets) if drops + packets else 0.0
    return (
        f"Thread {thread} stats: MB={mb} secs={secs:g} MBps={mb / secs:g} packets={packets} "
        f"blocks={blocks} polls={polls} drops={drops} drop%={drop_pct:g}"
    )


def disk_line(thread: int, stats: CaptureStats) -> str:
    """steno's second stats line: what upstream's lacks (disk latency, losses).

    A line of its own, so that tools parsing upstream's line see it unchanged."""
    avg_us = stats.write_ns_total // 1000 // stats.writes if stats.writes else 0
    return (
        f"Thread {thread} disk: writes={stats.writes} bytes={stats.bytes_written} "
        f"write_us_avg={avg_us} write_us_max={stats.write_ns_max // 1000} "
        f"lost_packets={stats.lost_packets} kernel_freezes={stats.kernel_freezes}"
    )
