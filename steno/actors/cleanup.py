"""The cleanup actor: deletes the oldest files as retention requires.

Whenever the store sees new files, and at least every ``interval`` seconds
(15, as upstream's sync), it measures each file system the store lives on,
asks ``store/retention.py`` what to delete, and deletes it: the index first
(so no new query picks the pair up), then the packet file.  A query already
reading a deleted file keeps reading it -- it holds it open -- and the space
that file still takes is counted as freed, so the next round does not delete
more to make up for it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

import attrs
import trio

from steno.actors.heartbeat import Heartbeat
from steno.actors.stats import Stats
from steno.actors.store import StoreActor
from steno.store.catalogue import StoredFile
from steno.store.open_files import OpenFiles
from steno.store.retention import (
    Candidate,
    Deletion,
    FsUsage,
    Shortfall,
    ThreadLimits,
    plan_deletions,
)

log = logging.getLogger("steno.cleanup")

DELETE_BATCH = 64


@attrs.frozen
class _Pending:
    path: Path
    size: int
    dev: int


class CleanupActor:
    name = "cleanup"

    def __init__(
        self,
        store: StoreActor,
        limits: Mapping[int, ThreadLimits],
        stats: Stats,
        open_files: OpenFiles,
        *,
        interval: float = 15.0,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._store = store
        self._limits = dict(limits)
        self._stats = stats
        self._open = open_files
        self._interval = interval
        self.heartbeat = heartbeat or Heartbeat(self.name)
        self._pending: list[_Pending] = []
        self._short: set[int] = set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self.clean_once()
            await self.heartbeat.idle(self._interval, self._store.wait_changed)

    async def clean_once(self) -> list[Deletion]:
        snapshot = self._store.snapshot
        deletions, shortfalls = await trio.to_thread.run_sync(self._plan, snapshot.threads)
        if deletions:
            # In batches, beating between them: deleting thousands of files
            # (after MaxDirectoryFiles was lowered, say) is progress, not a hang.
            for start in range(0, len(deletions), DELETE_BATCH):
                await trio.to_thread.run_sync(self._delete, deletions[start : start + DELETE_BATCH])
                await self.heartbeat.beat()
            self._store.rescan_soon()
        self._report(shortfalls)
        return deletions

    def _plan(
        self, threads: tuple[tuple[StoredFile, ...], ...]
    ) -> tuple[list[Deletion], list[Shortfall]]:
        files = {
            i: [
                Candidate(
                    thread=f.thread,
                    name=f.name,
                    first_ns=f.first_ns,
                    last_ns=f.last_ns,
                    packet_bytes=f.packet_bytes,
                    index_bytes=f.index_bytes,
                    packet_fs=f.packet_dev,
                    index_fs=f.index_dev,
                )
                for f in t
            ]
            for i, t in enumerate(threads)
        }
        # Space still held by deleted files that a query has open.
        held = set(self._open.held(p.path for p in self._pending))
        self._pending = [p for p in self._pending if p.path in held]
        usage: dict[int, FsUsage] = {}
        for i, dirs in enumerate(self._store.dirs):
            if i not in self._limits:
                continue
            for path in (dirs.packets, dirs.index):
                dev = os.stat(path).st_dev
                if dev in usage:
                    continue
                st = os.statvfs(path)
                usage[dev] = FsUsage(
                    total_bytes=st.f_blocks * st.f_frsize,
                    available_bytes=st.f_bavail * st.f_frsize,
                    pending_bytes=sum(p.size for p in self._pending if p.dev == dev),
                )
        return plan_deletions(files, self._limits, usage, time.time_ns())

    def _delete(self, deletions: list[Deletion]) -> None:
        for d in deletions:
            dirs = self._store.dirs[d.file.thread]
            for path, size, dev in (
                (dirs.index_path(d.file.name), d.file.index_bytes, d.file.index_fs),
                (dirs.packet_path(d.file.name), d.file.packet_bytes, d.file.packet_fs),
            ):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass  # already gone (deleted by hand): nothing to free
                except OSError as exc:
                    log.error(
                        "Thread %d: cannot delete %s: %s",
                        d.file.thread,
                        path,
                        exc.strerror,
                        extra={"STENO_THREAD": d.file.thread, "STENO_FILE": str(path)},
                    )
                    continue
                if self._open.held([path]):
                    self._pending.append(_Pending(path, size, dev))
            self._stats.deleted.labels(str(d.file.thread), d.reason.value).inc()
            self._stats.add_upstream("aged_files", 1)
            log.info(
                "Thread %d: deleted %s (%s)",
                d.file.thread,
                d.file.name,
                d.reason.value.replace("_", " "),
                extra={
                    "STENO_THREAD": d.file.thread,
                    "STENO_FILE": str(dirs.packet_path(d.file.name)),
                },
            )

    def _report(self, shortfalls: list[Shortfall]) -> None:
        now = {s.fs for s in shortfalls}
        for s in shortfalls:
            if s.fs not in self._short:
                log.error(
                    "Disk (device %d) stays %d MiB short of its free-space threshold after "
                    "deleting every old file: something else fills it",
                    s.fs,
                    s.missing_bytes >> 20,
                )
        self._short = now
