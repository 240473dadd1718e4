"""The capture actor: runs ``stenotype`` (``StenotypePath``) and keeps it running.

As upstream's server does, it gives stenotype the configured ``Flags``
followed by ``--threads=<n> --dir=<run dir> --iface=<Interface>``, where the
run directory holds symlinks ``PKT<n>``/``IDX<n>`` to each thread's
configured directories.  Unlike upstream:

* **No crash exit.**  Upstream's server exited when stenotype died within a
  minute of starting ("crashing to avoid stenotype crash loop"), taking the
  query service with it.  Here stenotype is restarted after a delay that
  doubles up to ``StenotypeRestartMaxSec``; the service stays up, and the
  failure is logged with stenotype's own last words.
* **Leftovers are recovered, not deleted.**  Before each start, what a killed
  stenotype left behind is sealed (``store/lifecycle.py``) -- also when
  ``StenotypePath`` is upstream's stenotype, which does not do it itself.
* **Stats.**  stenotype's stats lines (upstream's, and steno's ``disk`` line)
  feed the metrics; ``-v`` and ``--stats_sec=10`` are added to the flags
  unless the operator set them.
* **Stale files.**  As upstream, a stenotype that has not sealed a file for
  five minutes (or five file lifetimes, if longer) is restarted; steno's
  stenotype rotates even on an idle link, so this means it is stuck.

Stopping (cancellation): stenotype gets SIGTERM, which makes it seal its open
files, and up to ``stop_timeout`` seconds to do so before SIGKILL; then the
run directory is removed (upstream leaked one per start in /tmp).
"""

from __future__ import annotations

import logging
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import trio

from steno.actors.backoff import Backoff
from steno.actors.heartbeat import Heartbeat
from steno.actors.stats import Stats
from steno.actors.stenotype import recovery
from steno.store.naming import ThreadDirs

log = logging.getLogger("steno.capture")

_STATS = re.compile(
    r"Thread (\d+) stats: MB=(\d+) .*packets=(\d+) blocks=(\d+) polls=\d+ drops=(\d+)"
)
_DISK = re.compile(
    r"Thread (\d+) disk: writes=\d+ bytes=(\d+) write_us_avg=(\d+) write_us_max=(\d+) "
    r"lost_packets=(\d+)"
)
STALE_MIN_SECONDS = 300.0
READY_WAIT = 10.0
_THREAD = re.compile(r"\bThread (\d+)\b")
_UPSTREAM_PREFIX = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z T:[0-9a-f]+ ")


def _flag_value(flags: Sequence[str], name: str) -> str | None:
    for i, f in enumerate(flags):
        if f.startswith(f"{name}="):
            return f.split("=", 1)[1]
        if f == name and i + 1 < len(flags):
            return flags[i + 1]
    return None


def effective_flags(flags: Sequence[str]) -> list[str]:
    """The operator's flags plus what the daemon needs to read stats."""
    out = list(flags)
    if not any(re.fullmatch(r"-v+", f) for f in out):
        out.append("-v")
    if _flag_value(out, "--stats_sec") is None:
        out.append("--stats_sec=10")
    return out


class CaptureActor:
    name = "capture"

    def __init__(
        self,
        *,
        stenotype: str,
        flags: Sequence[str],
        interface: str,
        dirs: Sequence[ThreadDirs],
        run_dir: Path,
        stats: Stats,
        latest_file_ns: Callable[[int], int | None] | None = None,
        restart_max: float = 60.0,
        stop_timeout: float = 30.0,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._stenotype = stenotype
        self._flags = effective_flags(flags)
        self._interface = interface
        self._dirs = tuple(dirs)
        self._run_dir = run_dir
        self._stats = stats
        self._latest = latest_file_ns
        self._backoff = Backoff(first=1.0, cap=restart_max, good_run=60.0)
        self._stop_timeout = stop_timeout
        self.heartbeat = heartbeat or Heartbeat(self.name)
        block_kb = _flag_value(self._flags, "--blocksize_kb")
        self._block_size = int(block_kb) * 1024 if block_kb and block_kb.isdigit() else 1 << 20
        fileage = _flag_value(self._flags, "--fileage_sec")
        self._stale_after = max(
            STALE_MIN_SECONDS, 5 * int(fileage) if fileage and fileage.isdigit() else 0
        )
        self.capturing = False
        self._capturing = trio.Event()
        self._reported = False
        self.pid: int | None = None
        self.starts = 0
        self.last_exit: str | None = None

    def argv(self) -> list[str]:
        return [
            self._stenotype,
            *self._flags,
            f"--threads={len(self._dirs)}",
            f"--dir={self._run_dir}",
            f"--iface={self._interface}",
        ]

    def _prepare_run_dir(self) -> None:
        self._run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for d in self._dirs:
            for link, target in ((f"PKT{d.thread}", d.packets), (f"IDX{d.thread}", d.index)):
                path = self._run_dir / link
                if path.is_symlink() or path.exists():
                    path.unlink()
                path.symlink_to(target)

    def _recover(self) -> None:
        for d in self._dirs:
            plan = recovery.plan_thread(d, indexing="--no_index" not in self._flags)
            if plan:
                report = recovery.execute(
                    d, plan, block_size=self._block_size, indexing="--no_index" not in self._flags
                )
                log.warning(
                    "Thread %d: recovered %d file(s) (%d packets) a stopped stenotype left, "
                    "deleted %d",
                    d.thread,
                    report.recovered_files,
                    report.recovered_packets,
                    report.deleted_files,
                    extra={"STENO_THREAD": d.thread},
                )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        # The heartbeat pulses beside the restart loop: every step of that loop
        # is bounded (stenotype's start and stop by timeouts, a stuck stenotype
        # by the stale-file check), so a silent pulse means the actor itself
        # no longer runs.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.heartbeat.pulse)
            await self._keep_running(task_status)

    async def _keep_running(self, task_status: trio.TaskStatus[None]) -> None:
        await trio.to_thread.run_sync(self._prepare_run_dir)
        try:
            first = True
            while True:
                await trio.to_thread.run_sync(self._recover)
                ran = await self._run_once(task_status if first else None)
                if first and not self._reported:
                    # stenotype ended before it captured: the daemon still
                    # serves what is stored while capture is retried.
                    task_status.started()
                    self._reported = True
                first = False
                delay = self._backoff.after_exit(ran)
                log.error(
                    "Stenotype stopped after %.1f s (%s); restarting in %.0f s",
                    ran,
                    self.last_exit,
                    delay,
                )
                await trio.sleep(delay)
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(shutil.rmtree, self._run_dir, True)

    async def _run_once(self, task_status: trio.TaskStatus[None] | None) -> float:
        argv = self.argv()
        log.info("Starting stenotype: %s", " ".join(argv))
        started = time.monotonic()
        proc = await trio.lowlevel.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.pid = proc.pid
        self.starts += 1
        self.capturing = False
        self._stats.capture_restarted()
        if self.starts > 1:
            self._stats.stenotype_restarts.inc()
        self._stats.stenotype_up.set(1)
        self._capturing = trio.Event()
        tail: list[str] = []
        try:
            async with trio.open_nursery() as nursery:
                assert proc.stdout is not None
                nursery.start_soon(self._read_lines, proc.stdout, tail)
                nursery.start_soon(self._watch_staleness, proc, started)
                if task_status is not None:
                    nursery.start_soon(self._report_started, proc, task_status)
                await proc.wait()
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                # Still reading its output: what stenotype says while it seals
                # its files (and why it failed) belongs in the log.
                await self._stop(proc, proc.stdout, tail)
            self._stats.stenotype_up.set(0)
            self.capturing = False
            self.pid = None
        code = proc.returncode if proc.returncode is not None else 0
        self.last_exit = (
            f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        ) + (f"; last said: {tail[-1]}" if tail else "")
        return time.monotonic() - started

    async def _report_started(self, proc: trio.Process, task_status: trio.TaskStatus[None]) -> None:
        """Started means capturing: steno's stenotype says so once its rings are
        open.  Another stenotype (upstream's) says nothing of the kind, so after
        ``READY_WAIT`` seconds of running it is taken as capturing."""
        with trio.move_on_after(READY_WAIT):
            await self._capturing.wait()
        if not self._capturing.is_set():
            log.warning("stenotype has not said it is capturing after %.0f s; going on", READY_WAIT)
        self._reported = True
        task_status.started()

    async def _stop(
        self,
        proc: trio.Process,
        output: trio.abc.ReceiveStream | None = None,
        tail: list[str] | None = None,
    ) -> None:
        """SIGTERM, up to ``stop_timeout`` to exit (reading `output` to its end
        meanwhile, if given), then SIGKILL."""
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        elif output is None:
            return
        with trio.move_on_after(self._stop_timeout):
            async with trio.open_nursery() as nursery:
                if output is not None:
                    nursery.start_soon(self._read_lines, output, [] if tail is None else tail)
                await proc.wait()
            return
        if proc.returncode is not None:
            return  # it exited; something else holds its output open
        log.error("stenotype did not stop within %.0f s of SIGTERM; killing it", self._stop_timeout)
        proc.kill()
        await proc.wait()

    async def _read_lines(self, stream: trio.abc.ReceiveStream, tail: list[str]) -> None:
        pending = b""
        async for data in stream:
            pending += data
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._line(line)
                    tail[:] = [line]

    def _line(self, line: str) -> None:
        # stenotype stamps its lines as upstream did; our own log stamps them again.
        numbered = _THREAD.search(line)
        log.info(
            "stenotype: %s",
            _UPSTREAM_PREFIX.sub("", line, count=1),
            extra={"STENO_THREAD": int(numbered[1])} if numbered else None,
        )
        if "Capturing on" in line:
            self.capturing = True
            self._capturing.set()
        if m := _STATS.search(line):
            thread, _mb, packets, _blocks, drops = (int(x) for x in m.groups())
            self.capturing = True
            self._stats.capture_total(self._stats.capture_packets, thread, packets)
            self._stats.capture_total(self._stats.capture_drops, thread, drops)
        elif m := _DISK.search(line):
            thread, nbytes, avg_us, max_us, lost = (int(x) for x in m.groups())
            self._stats.capture_total(self._stats.capture_bytes, thread, nbytes)
            self._stats.capture_total(self._stats.capture_lost, thread, lost)
            self._stats.write_latency_avg.labels(str(thread)).set(avg_us / 1e6)
            self._stats.write_latency_max.labels(str(thread)).set(max_us / 1e6)

    async def _watch_staleness(self, proc: trio.Process, started: float) -> None:
        if self._latest is None:
            return
        wall_started = time.time_ns()
        while True:
            await trio.sleep(min(60.0, self._stale_after / 5))
            now = time.time_ns()
            for d in self._dirs:
                newest = max(self._latest(d.thread) or 0, wall_started)
                if now - newest > self._stale_after * 1e9:
                    log.error(
                        "Restarting stenotype due to stale file: thread %d sealed nothing "
                        "for %.0f s",
                        d.thread,
                        (now - newest) / 1e9,
                    )
                    await self._stop(proc)
                    return
