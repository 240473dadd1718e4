"""The store actor: the catalogue of sealed files, kept current.

Every ``interval`` (1 s by default; upstream synced every 15 s) it lists each
thread's index directory and publishes a new immutable :class:`Catalogue`.
Files already known are not opened again; a new steno index is checked whole
(its checksum) once, here, so queries can trust it without checking it
again.  Files deleted behind the daemon's back simply disappear from the next
catalogue (upstream kept them and failed queries).  A file that cannot be
read is logged once and left out until it changes.

Queries take ``snapshot`` when they start and use it to the end: a file
deleted meanwhile stays readable to them (they hold it open), and a file
sealed meanwhile is for the next query.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import trio

from steno.actors.heartbeat import Heartbeat
from steno.actors.stats import Stats
from steno.store.catalogue import Catalogue
from steno.store.naming import ThreadDirs

log = logging.getLogger("steno.store")


class StoreActor:
    name = "store"

    def __init__(
        self,
        dirs: Sequence[ThreadDirs],
        stats: Stats,
        *,
        interval: float = 1.0,
        upstream_block_size: int = 1 << 20,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.dirs = tuple(dirs)
        self._stats = stats
        self._interval = interval
        self.heartbeat = heartbeat or Heartbeat(self.name)
        self._upstream_block_size = upstream_block_size
        self.snapshot = Catalogue(tuple(() for _ in self.dirs))
        self._reported: set[str] = set()
        self._rescan = trio.Event()
        self._changed = trio.Event()

    async def wait_changed(self) -> None:
        """Returns after the next scan that found new or vanished files."""
        await self._changed.wait()

    def rescan_soon(self) -> None:
        """Asks for a rescan now (after retention deleted files)."""
        self._rescan.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self._scan()
        task_status.started()
        while True:
            await self.heartbeat.idle(self._interval, self._rescan.wait)
            self._rescan = trio.Event()
            await self._scan()

    async def _scan(self) -> None:
        before = self.snapshot
        after = await trio.to_thread.run_sync(
            functools.partial(
                Catalogue.scan,
                self.dirs,
                upstream_block_size=self._upstream_block_size,
                previous=before,
                verify=True,
            )
        )
        self.snapshot = after
        if [[f.name for f in t] for t in before.threads] != [
            [f.name for f in t] for t in after.threads
        ]:
            self._changed.set()
            self._changed = trio.Event()
        for thread, (old, new) in enumerate(zip(before.threads, after.threads, strict=True)):
            added = len({f.name for f in new} - {f.name for f in old})
            if added and before is not None:
                log.debug(
                    "Thread %d found %d new file(s)", thread, added, extra={"STENO_THREAD": thread}
                )
            t = str(thread)
            self._stats.files.labels(t).set(len(new))
            self._stats.store_bytes.labels(t).set(sum(f.packet_bytes + f.index_bytes for f in new))
            with_packets = [f for f in new if f.last_ns]
            if with_packets:
                self._stats.oldest.labels(t).set(min(f.first_ns for f in with_packets) / 1e9)
                self._stats.newest.labels(t).set(max(f.last_ns for f in with_packets) / 1e9)
        self._stats.set_upstream("current_files", sum(len(t) for t in after.threads))
        current = {str(p.path) for p in after.problems}
        for problem in after.problems:
            if str(problem.path) not in self._reported:
                log.error(
                    "Cannot use %s: %s",
                    problem.path,
                    problem.reason,
                    extra={"STENO_FILE": str(problem.path)},
                )
        self._reported = current

    def latest_file_ns(self, thread: int) -> int | None:
        """When the newest sealed file of a thread was opened (its name), if any."""
        files = self.snapshot.threads[thread] if thread < len(self.snapshot.threads) else ()
        return int(files[-1].name) * 1000 if files else None
