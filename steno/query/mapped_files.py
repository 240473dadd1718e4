"""Packet files kept mapped between queries.

Why: a selective query reads a few packets from each of many pages, and a
map made afresh for each query takes page faults for those pages even when
all of them are in the page cache: 18,519 packets scattered over 1.7 GB took
24.5 ms from fresh maps and 17.3 ms from maps kept from the previous query
(in-process, warm).  A map that outlives its query keeps its page tables, so
the next query over the same file finds the pages already mapped.

What it must not do: keep a deleted file's space.  Every kept map holds its
file through ``OpenFiles`` (so retention counts the space as taken, not
free), ``drop_deleted`` lets go of the maps of files retention has deleted
as soon as no query is reading them (the query actor calls it every second),
and the maps kept are bounded (least recently used go first): at most a
quarter of ``MaxOpenFiles``' slots, the rest stay for queries; when no slot is
free at once, the query gets a map of its own, as without this cache.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import attrs

from steno.native.extract import PacketFileMap
from steno.store.open_files import OpenFiles

CAPACITY = 32
"""Maps kept at most.  What a kept map costs is its page tables: 8 bytes for
each page a query touched, up to 8 MiB for a 4 GiB file read whole, so 32
maps bound it to 256 MiB however large the store.  A query over more files
than this (a day of one-minute files, say) finds few of them kept; one over
the last minutes, the common case, finds them all."""


@attrs.define(eq=False)
class _Kept:
    packets: PacketFileMap
    inode: int
    hold: ExitStack
    users: int = 0
    stale: bool = False
    """Dropped from the cache while in use: closed by its last user."""


class MappedFiles:
    """Hands out packet-file maps, keeping them for the next query.

    Thread-safe: queries run in worker threads.  A map is closed only when
    no query is using it."""

    def __init__(self, open_files: OpenFiles | None = None, capacity: int = CAPACITY) -> None:
        self._open = open_files if open_files is not None else OpenFiles()
        self._capacity = min(capacity, self._open.limit // 4)
        self._kept: OrderedDict[Path, _Kept] = OrderedDict()
        self._lock = threading.Lock()

    @contextmanager
    def use(self, path: Path, block_size: int) -> Iterator[PacketFileMap]:
        """The file's map for the duration: a kept one when it is still the
        same file, else a new one (kept for later when there is room)."""
        kept = self._take(path)
        if kept is None:
            kept = self._keep(path, block_size)
        if kept is None:  # no slot to keep it: a map of the query's own
            with PacketFileMap(path, block_size) as packets:
                yield packets
            return
        try:
            yield kept.packets
        finally:
            self._give_back(kept)

    def _take(self, path: Path) -> _Kept | None:
        try:
            inode = os.stat(path).st_ino
        except OSError:
            inode = -1  # gone: let opening it say so
        with self._lock:
            kept = self._kept.get(path)
            if kept is None:
                return None
            if kept.inode != inode:  # deleted (or replaced) since
                self._drop(path)
                return None
            kept.users += 1
            self._kept.move_to_end(path)
            return kept

    def _keep(self, path: Path, block_size: int) -> _Kept | None:
        if self._capacity <= 0:
            return None
        hold = ExitStack()
        try:
            hold.enter_context(self._open.hold(path, timeout=0))
        except TimeoutError:
            return None
        try:
            packets = PacketFileMap(path, block_size)
            inode = os.stat(path).st_ino
        except BaseException:
            hold.close()
            raise
        kept = _Kept(packets, inode, hold, users=1)
        with self._lock:
            if path in self._kept:  # another query kept it meanwhile: ours stays ours
                kept.stale = True
            else:
                self._kept[path] = kept
                while len(self._kept) > self._capacity:
                    self._drop(next(iter(self._kept)))
        return kept

    def _give_back(self, kept: _Kept) -> None:
        with self._lock:
            kept.users -= 1
            close = kept.stale and kept.users == 0
        if close:
            _close(kept)

    def _drop(self, path: Path) -> None:
        """With the lock held: forgets path's map; closes it unless in use."""
        kept = self._kept.pop(path)
        kept.stale = True
        if kept.users == 0:
            _close(kept)

    def drop_deleted(self) -> int:
        """Lets go of the maps of files deleted since they were kept (at once
        when no query is reading them, else when the last one finishes);
        returns how many."""
        with self._lock:
            entries = list(self._kept.items())
        gone = []
        for path, kept in entries:
            try:
                if os.stat(path).st_ino == kept.inode:
                    continue
            except OSError:
                pass
            gone.append((path, kept))
        dropped = 0
        with self._lock:
            for path, kept in gone:
                if self._kept.get(path) is kept:
                    self._drop(path)
                    dropped += 1
        return dropped

    def close(self) -> None:
        """Drops every map (those in use close when their query ends)."""
        with self._lock:
            for path in list(self._kept):
                self._drop(path)

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)


def _close(kept: _Kept) -> None:
    try:
        kept.packets.close()
    finally:
        kept.hold.close()
