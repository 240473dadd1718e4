"""The index-flush actor: seals finished packet files off the capture path.

Workers send :class:`SealFile` messages; this actor serializes each index (C,
GIL released), then makes packet file and index visible in the order
``store/sealing.py`` explains.  It runs in a thread of its own at
``--index_nicelevel``, so index work never competes with capture at equal
priority and never slows a capture loop that shares trio's thread pool.

Error handling: a file that cannot be sealed (the disk is full, an I/O
error) is logged with its name and stays hidden, its packets intact on disk.
Its index is dropped from memory -- under a full disk, memory must not fill
up too -- and the file is remembered: after the next file seals fine (space is
back), the remembered ones are re-indexed from disk and sealed, as recovery
does at start.  Whatever is still hidden at exit is recovered at the next
start.  The actor ends when every worker has closed its end of the channel,
so files finished during shutdown are still sealed.
"""

from __future__ import annotations

import functools
import logging
import os

import trio

from steno.actors.dedicated_thread import DedicatedThread
from steno.actors.messages import SealFile
from steno.actors.stenotype import recovery
from steno.store import sealing
from steno.store.naming import ThreadDirs, hidden

log = logging.getLogger("steno.stenotype")


def seal(job: SealFile) -> None:
    """Seals one file (blocking; runs in the flusher's thread)."""
    pkt_hidden = job.dirs.packet_path(hidden(job.name))
    try:
        sealing.finish_packet_file(job.fd, job.size)
        if job.size == 0 and job.write_error:
            # Nothing of it reached the disk: there is nothing to keep.
            os.unlink(pkt_hidden)
            return
        if job.index is not None:
            data = job.index.serialize(job.size)
            sealing.write_hidden_index(job.dirs, job.name, data)
        sealing.publish(job.dirs, job.name, with_index=job.index is not None)
    finally:
        if job.index is not None:
            job.index.close()
    log.info(
        "Wrote all index files for %s, moving to %s (%d packets, %d bytes)",
        pkt_hidden,
        job.dirs.packet_path(job.name),
        job.packets,
        job.size,
    )


class IndexFlusher:
    def __init__(
        self,
        receive: trio.MemoryReceiveChannel[SealFile],
        *,
        block_size: int,
        indexing: bool = True,
        nice: int = 0,
    ) -> None:
        self._receive = receive
        self._block_size = block_size
        self._indexing = indexing
        self._nice = nice
        self._unsealed: list[tuple[ThreadDirs, str]] = []
        self.sealed = 0
        self.failed = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with DedicatedThread("index-flush", nice=self._nice) as thread, self._receive:
            task_status.started()
            async for job in self._receive:
                try:
                    await thread.run(functools.partial(seal, job))
                except OSError as exc:
                    self.failed += 1
                    self._unsealed.append((job.dirs, job.name))
                    log.error(
                        "Thread %d: could not seal %s: %s; it stays hidden until it can be",
                        job.dirs.thread,
                        job.name,
                        exc.strerror or exc,
                    )
                    continue
                self.sealed += 1
                if self._unsealed:
                    await thread.run(self._seal_remembered)

    def _seal_remembered(self) -> None:
        """Seals files that failed earlier, from what is on disk (blocking)."""
        still: list[tuple[ThreadDirs, str]] = []
        for dirs, name in self._unsealed:
            try:
                if not dirs.packet_path(hidden(name)).exists():
                    continue  # deleted meanwhile
                kept = recovery.recover_packets(
                    dirs,
                    name,
                    hidden_file=True,
                    block_size=self._block_size,
                    indexing=self._indexing,
                )
            except OSError as exc:
                still.append((dirs, name))
                log.error(
                    "Thread %d: still cannot seal %s: %s", dirs.thread, name, exc.strerror or exc
                )
            else:
                self.sealed += 1
                log.warning("Thread %d: sealed %s after all (%d packets)", dirs.thread, name, kept)
        self._unsealed = still
