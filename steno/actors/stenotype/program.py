"""stenotype as a trio program: set-up in order, then the actor tree.

Set-up order matters and follows upstream: every capture socket is opened
while the process still has CAP_NET_RAW/CAP_IPC_LOCK; then the umask becomes
077 and privileges are dropped (--uid/--gid) -- and, when not running as root
(the systemd unit: capabilities come as ambient ones), every capability is
given up (``steno/capabilities.py``); only then are files touched, so every
file is owned by the user that runs capture, and no packet is parsed with a
capability held.  The seccomp filter (``--seccomp``) comes last.  Leftovers of an earlier
run are listed before the first new file exists.

The tree::

    stenotype
      ├─ IndexFlusher (seals finished files; outlives the workers)
      ├─ recovery     (seals leftovers of a crashed run, once)
      ├─ signals      (SIGTERM/SIGINT: stop the workers, let them finish)
      ├─ parent       (the same when the parent, stenographer, has exited)
      ├─ watchdog     (aborts if a worker stops coming back from the native loop)
      └─ CaptureWorker, one per --threads
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence

import trio

from steno import log as steno_log
from steno.actors.messages import SealFile
from steno.actors.stenotype import recovery
from steno.actors.stenotype.index_flush import IndexFlusher
from steno.actors.stenotype.options import StenotypeOptions, UsageError, parse_args
from steno.actors.stenotype.rotation import RotationPolicy
from steno.actors.stenotype.worker import CaptureFailed, CaptureWorker, StatsSchedule
from steno.capabilities import drop_all
from steno.native.capture import Capture, CaptureConfig, CaptureError, RingConfig
from steno.native.sandbox import apply_sandbox
from steno.privileges import PrivilegeError, drop_privileges
from steno.store.lifecycle import Leftover
from steno.store.naming import ThreadDirs

log = logging.getLogger("steno.stenotype")

SEAL_QUEUE = 16
WATCHDOG_MIN_NS = 30_000_000_000


class SetupError(Exception):
    """Start-up failed for a reason the operator can fix; the message says which."""


def capture_config(opts: StenotypeOptions, *, lock_memory: bool = True) -> CaptureConfig:
    fanout_id = opts.fanout_id or (os.getpid() & 0xFFFF)
    ring = RingConfig(
        iface=opts.iface,
        block_size=opts.block_size,
        block_count=opts.blocks,
        retire_tov_ms=opts.blockage_sec * 1000 - 1,
        fanout=opts.fanout,
        fanout_type=opts.fanout_type,
        fanout_id=fanout_id,
        promisc=opts.promisc,
        lock_memory=lock_memory,
        bpf=opts.bpf_program(),
    )
    return CaptureConfig(
        ring=ring,
        aio_depth=opts.aiops,
        max_blocks_per_file=opts.blocks_per_file,
        index=opts.index,
        index_budget_bytes=opts.index_budget_mb * 1024 * 1024,
        count=None if opts.count < 0 else opts.count,
    )


def open_captures(opts: StenotypeOptions) -> list[Capture]:
    """One ring per thread, all in one fanout group; closes what it opened on failure."""
    captures: list[Capture] = []
    lock = True
    try:
        for _ in range(opts.threads):
            try:
                captures.append(Capture(capture_config(opts, lock_memory=lock)))
            except CaptureError as exc:
                if not (
                    exc.step.startswith("mmap(MAP_LOCKED)")
                    and exc.errno in (errno.EAGAIN, errno.ENOMEM, errno.EPERM)
                ):
                    raise
                log.warning(
                    "ring of %d MiB cannot be locked in memory (%s): it may be swapped out "
                    "under memory pressure; grant CAP_IPC_LOCK to avoid that",
                    opts.blocks * opts.block_size >> 20,
                    os.strerror(exc.errno),
                )
                lock = False
                captures.append(Capture(capture_config(opts, lock_memory=False)))
    except CaptureError as exc:
        for capture in captures:
            capture.close()
        raise SetupError(str(exc)) from None
    return captures


def prepare_dirs(opts: StenotypeOptions) -> list[ThreadDirs]:
    """``<dir>/PKT<N>`` and ``<dir>/IDX<N>`` for every thread, created 0700 if missing."""
    result = []
    for thread in range(opts.threads):
        dirs = ThreadDirs.under(opts.dir, thread)
        for path in (dirs.packets, dirs.index):
            try:
                path.mkdir(mode=0o700, exist_ok=True)
            except FileExistsError:
                raise SetupError(f"{path} exists and is not a directory") from None
            except OSError as exc:
                raise SetupError(f"cannot create {path}: {exc.strerror}") from None
            if not path.is_dir():
                raise SetupError(f"{path} exists and is not a directory")
            if not os.access(path, os.W_OK | os.X_OK):
                raise SetupError(f"{path} is not writable by uid {os.getuid()}")
        result.append(dirs)
    return result


def watch_parent() -> int | None:
    """A pidfd of the parent (stenographer), which becomes readable when it exits.

    Like upstream, stenotype stops with its parent instead of capturing on
    alone.  Not with PR_SET_PDEATHSIG, which upstream used: that signal comes
    when the *thread* that forked the child ends, and trio forks from worker
    threads, which end after ten idle seconds -- stenotype was then stopped
    and restarted at random.  None if the kernel has no pidfds (before 5.3).
    Opened before the seccomp filter, which does not allow ``pidfd_open``.
    """
    parent = os.getppid()
    try:
        fd = os.pidfd_open(parent)
    except OSError as exc:
        log.warning("Cannot watch the parent process %d: %s", parent, exc.strerror)
        return None
    if os.getppid() != parent:
        # It exited before the pidfd was opened: the pid may name another process now.
        os.close(fd)
        raise SetupError(f"the parent process {parent} exited")
    return fd


async def _watch_signals(
    signals: AsyncIterator[int], workers: Sequence[CaptureWorker], cancel: trio.CancelScope
) -> None:
    """The first SIGTERM/SIGINT stops capture; the receiver stays open until
    the program ends (see run_tree), so a second one -- Ctrl-C reaching both
    the daemon and stenotype, then the daemon's SIGTERM -- cannot kill it
    while it seals its files."""
    async for signum in signals:
        log.warning("Got signal %s, finishing files and exiting", signal.Signals(signum).name)
        for worker in workers:
            worker.capture.request_stop()
        cancel.cancel()
        return


async def _watch_parent(
    fd: int, workers: Sequence[CaptureWorker], cancel: trio.CancelScope
) -> None:
    await trio.lowlevel.wait_readable(fd)
    log.warning("The parent process exited, finishing files and exiting")
    for worker in workers:
        worker.capture.request_stop()
    cancel.cancel()


async def _watchdog(workers: Sequence[CaptureWorker], limit_ns: int) -> None:
    """Upstream's watchdog, minus its bug: an idle link is progress too (issue #94),
    because the native loop returns on its deadline whether or not packets came."""
    while True:
        await trio.sleep(limit_ns / 4e9)
        now = time.monotonic_ns()
        for worker in workers:
            if now - worker.last_progress_ns > limit_ns:
                log.critical(
                    "WATCHDOG FAILURE: thread %d made no progress for %.0f s",
                    worker.thread,
                    (now - worker.last_progress_ns) / 1e9,
                )
                logging.shutdown()
                os.abort()


async def run_tree(
    opts: StenotypeOptions,
    captures: Sequence[Capture],
    dirs: Sequence[ThreadDirs],
    parent_fd: int | None = None,
) -> None:
    plans = [recovery.plan_thread(d, indexing=opts.index) for d in dirs]
    policy = RotationPolicy(max_age_ns=opts.fileage_sec * 1_000_000_000)
    send, receive = trio.open_memory_channel[SealFile](SEAL_QUEUE)
    flusher = IndexFlusher(
        receive, block_size=opts.block_size, indexing=opts.index, nice=opts.index_nicelevel
    )
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        await _run_tree(opts, captures, dirs, parent_fd, plans, policy, send, flusher, signals)


async def _run_tree(
    opts: StenotypeOptions,
    captures: Sequence[Capture],
    dirs: Sequence[ThreadDirs],
    parent_fd: int | None,
    plans: Sequence[list[Leftover]],
    policy: RotationPolicy,
    send: trio.MemorySendChannel[SealFile],
    flusher: IndexFlusher,
    signals: AsyncIterator[int],
) -> None:
    async with trio.open_nursery() as outer:
        await outer.start(flusher.run)
        if any(plans):
            outer.start_soon(_recover, opts, dirs, plans)
        async with send:
            workers = [
                CaptureWorker(
                    thread=i,
                    dirs=dirs[i],
                    capture=captures[i],
                    policy=policy,
                    seal=send,
                    block_size=opts.block_size,
                    retire_tov_ns=opts.blockage_sec * 1_000_000_000,
                    preallocate_bytes=opts.preallocate_file_mb * 1024 * 1024,
                    stats=StatsSchedule(blocks=opts.stats_blocks, seconds=opts.stats_sec),
                )
                for i in range(opts.threads)
            ]
            async with trio.open_nursery() as helpers:
                async with trio.open_nursery() as capture_nursery:
                    helpers.start_soon(
                        _watch_signals, signals, workers, capture_nursery.cancel_scope
                    )
                    if parent_fd is not None:
                        helpers.start_soon(
                            _watch_parent, parent_fd, workers, capture_nursery.cancel_scope
                        )
                    if opts.watchdogs:
                        limit = max(2 * opts.fileage_sec * 1_000_000_000, WATCHDOG_MIN_NS)
                        helpers.start_soon(_watchdog, workers, limit)
                    for worker in workers:
                        await capture_nursery.start(worker.run)
                    log.info(
                        "Capturing on %s with %d thread(s) into %s",
                        opts.iface,
                        opts.threads,
                        opts.dir,
                    )
                helpers.cancel_scope.cancel()


async def _recover(
    opts: StenotypeOptions, dirs: Sequence[ThreadDirs], plans: Sequence[list[Leftover]]
) -> None:
    for thread_dirs, plan in zip(dirs, plans, strict=True):
        if not plan:
            continue
        report = await trio.to_thread.run_sync(
            functools.partial(
                recovery.execute, thread_dirs, plan, block_size=opts.block_size, indexing=opts.index
            )
        )
        log.warning(
            "Thread %d: recovered an earlier run: %d files sealed (%d packets), %d deleted, "
            "%d failed",
            thread_dirs.thread,
            report.recovered_files,
            report.recovered_packets,
            report.deleted_files,
            report.failed,
        )


def _run_capturing_failures(
    opts: StenotypeOptions,
    captures: Sequence[Capture],
    dirs: Sequence[ThreadDirs],
    parent_fd: int | None,
) -> list[str]:
    """Runs the tree; returns the messages of threads whose capture failed."""
    failures: list[str] = []
    try:
        # While the tree runs, its signal receiver catches SIGTERM/SIGINT.  When
        # it closes, trio hands undelivered signals back to the previous
        # handlers: a second signal that arrived while the last files were
        # sealed must then not kill a process that is exiting cleanly anyway.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        trio.run(run_tree, opts, captures, dirs, parent_fd)
    except* CaptureFailed as group:
        failures.extend(str(exc) for exc in _leaves(group))
    return failures


def _leaves(group: BaseExceptionGroup[CaptureFailed]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        leaves.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return leaves


def main(argv: Sequence[str]) -> int:
    try:
        parsed = parse_args(list(argv))
    except UsageError as exc:
        print(f"stenotype: {exc}", file=sys.stderr)
        return 2
    if isinstance(parsed, str):
        print(parsed, end="")
        return 0
    opts = parsed
    steno_log.configure(opts.verbosity)
    log.debug("Arguments: %s", " ".join(argv))
    try:
        captures = open_captures(opts)
        try:
            os.umask(0o077)
            identity = drop_privileges(opts.uid, opts.gid)
            if os.geteuid() != 0:
                try:
                    drop_all()
                except OSError as exc:
                    raise SetupError(f"cannot drop capabilities: {exc}") from None
            log.info("Running as %s", identity)
            parent_fd = watch_parent()
            dirs = prepare_dirs(opts)
            try:
                apply_sandbox(opts.seccomp)
            except OSError as exc:
                raise SetupError(str(exc)) from None
            failures = _run_capturing_failures(opts, captures, dirs, parent_fd)
            if failures:
                for message in failures:
                    print(f"stenotype: {message}", file=sys.stderr)
                return 1
        finally:
            for capture in captures:
                capture.close()
    except (SetupError, PrivilegeError) as exc:
        print(f"stenotype: {exc}", file=sys.stderr)
        return 1
    log.info("Process exiting successfully")
    return 0
