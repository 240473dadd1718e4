"""The index-flush actor: seals finished packet files off the capture path.

Workers send :class:`SealFile` messages; this actor serializes each index (C,
GIL released), then makes packet file and index visible in the order
``store/sealing.py`` explains.  It runs in a thread of its own at
``--index_nicelevel``, so index work never competes with capture at equal
priority and never slows a capture loop that shares trio's thread pool.

A failure to seal one file (disk full, I/O error) is logged with the file's
name and leaves only hidden files behind, which the next start recovers; it
does not stop capture.  The actor ends when every worker has closed its end
of the channel, so files finished during shutdown are still sealed.
"""

from __future__ import annotations

import functools
import logging
import os

import trio

from steno.actors.dedicated_thread import DedicatedThread
from steno.actors.messages import SealFile
from steno.store import sealing
from steno.store.naming import hidden

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
    def __init__(self, receive: trio.MemoryReceiveChannel[SealFile], *, nice: int = 0) -> None:
        self._receive = receive
        self._nice = nice
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
                    log.error(
                        "Thread %d: could not seal %s: %s; it stays hidden and is recovered "
                        "at the next start",
                        job.dirs.thread,
                        job.name,
                        exc,
                    )
                else:
                    self.sealed += 1
