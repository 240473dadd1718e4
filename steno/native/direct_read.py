"""Reading the blocks a dense query needs with ``O_DIRECT``, ahead of their use.

Why: steno's stenotype writes packet files with ``O_DIRECT``, so the data an
analyst asks about is usually not in the page cache.  A broad query over such
a file reads most of its blocks.  Through the page cache (the file's map, or
buffered ``pread``) every page is first filled by the device and then touched
by the CPU once more; on this project's test VM a cold ``tcp`` answer read
through the map cost the server 2.8-7.0 s of CPU per GB of answer (with
``O_DIRECT`` 2.4-2.9, warm 1.5-2.5; perf put it in the first touch of each
freshly filled page), which on two cores held cold broad queries to half the
disk's rate.
``O_DIRECT`` moves the blocks straight into a few buffers that are used again
and again.  The reads happen in threads of their own (``preadv`` releases
the GIL), ``READERS`` at a time and up to ``DEPTH`` windows ahead of the
consumer, so the device stays busy while packets are extracted.

Only for cold reads of at least a packet per page (``worth_reading_direct``):
a file already cached is read faster through its map, and a sparse read wants
a few pages per block, not whole blocks (see ``PacketFileMap.prefetch``).
What was read this way is not cached: a second broad query over the same
cold data reads the device again, at its rate.
"""

from __future__ import annotations

import mmap
import os
import queue
import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from steno.native._steno import ffi

WINDOW_BYTES = 4 << 20
"""Bytes one read asks for (whole blocks; at least one block)."""
DEPTH = 3
"""Windows read ahead of the one being consumed, at most."""
READERS = 2
"""Reads in flight: the virtual disk here delivered about a tenth more with
two than with one (4 MiB reads; three added little)."""
_ALIGN = 4096
"""``O_DIRECT`` wants offsets, lengths and buffers aligned to the device's
logical block; a page is a multiple of every such block here."""
_POLL = 0.1
_PAGE = mmap.PAGESIZE


@attrs.frozen
class Window:
    """File bytes [pos, pos + length) held in ``data`` (valid until the next one is asked for)."""

    pos: int
    length: int
    data: mmap.mmap


def worth_reading_direct(positions: Sequence[int]) -> bool:
    """Whether the positions (increasing) select at least one packet per page
    of the span of the file they lie in, on average.

    Below that the answer is small next to what is read (``port 53``: a
    packet in every two or three pages, yet on nearly every page): the query
    waits on the disk whichever way it reads, the kernel's readahead keeps
    the disk as busy as ``O_DIRECT`` does, and the page cache it fills makes
    the next query over the same data quick (measured on the benchmark's
    store: ``port 53`` again took 2.0 s after a read through the map, 10.1 s
    after one with ``O_DIRECT``).  Above it (``tcp`` about two packets a
    page, a /16 three), extracting and sending the answer keeps the CPU busy,
    and the page cache's cost per page is what held the disk back."""
    if not positions:
        return False
    return len(positions) * _PAGE >= positions[-1] - positions[0] + _PAGE


def window_size(block_size: int, target: int = WINDOW_BYTES) -> int:
    """Whole blocks, about ``target`` bytes."""
    return max(1, target // block_size) * block_size


def windows_for(positions: Sequence[int], window: int, size: int) -> list[tuple[int, int]]:
    """(offset, length) of each window of ``window`` bytes (the file cut at
    multiples of it) that holds at least one of the increasing positions,
    clipped to the file's ``size``; in order."""
    found: list[tuple[int, int]] = []
    i = 0
    while i < len(positions):
        off = positions[i] // window * window
        if off >= size:
            break
        found.append((off, min(window, size - off)))
        i = bisect_left(positions, off + window, i)
    return found


def can_read_direct(block_size: int) -> bool:
    return block_size % _ALIGN == 0


class DirectReader:
    """Reads the given windows of a file with O_DIRECT, ``readers`` reads in
    flight and at most ``depth`` windows ahead of the consumer.

    Iterate to get each ``Window``, in order; its buffer is reused once the
    next window is asked for.  A read error is raised (as ``OSError``) where
    the window it was for would have come.  ``close`` (or leaving the
    ``with``) stops the threads after the reads in progress.  Opening raises
    ``OSError`` when the file system refuses ``O_DIRECT``: read it another way.

    Each reader takes a free buffer first and then the next window, so the
    windows in flight always have buffers and the one the consumer waits for
    is always being read or read already.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        windows: Sequence[tuple[int, int]],
        *,
        depth: int = DEPTH,
        readers: int = READERS,
    ) -> None:
        self._windows = list(windows)
        for off, _ in self._windows:
            if off % _ALIGN:
                raise ValueError(f"window at {off} is not aligned to {_ALIGN} bytes")
        self._fd = os.open(path, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC)
        biggest = max((length for _, length in self._windows), default=0)
        capacity = -(-biggest // _ALIGN) * _ALIGN or _ALIGN
        readers = max(1, min(readers, len(self._windows)))
        self._free: queue.Queue[mmap.mmap] = queue.Queue()
        for _ in range(max(depth, readers) + 1):
            self._free.put(mmap.mmap(-1, capacity))
        self._next = 0
        self._read: dict[int, Window | BaseException] = {}
        self._arrived = threading.Condition()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._read_windows, name="steno-direct-read", daemon=True)
            for _ in range(readers)
        ]
        for thread in self._threads:
            thread.start()

    def _read_windows(self) -> None:
        while (buf := self._take_free()) is not None:
            with self._arrived:
                k = self._next
                if k == len(self._windows):
                    return
                self._next += 1
            result: Window | BaseException
            try:
                result = self._read_window(k, buf)
            except BaseException as exc:  # handed to the consumer, in order
                result = exc
            with self._arrived:
                self._read[k] = result
                self._arrived.notify_all()

    def _read_window(self, k: int, buf: mmap.mmap) -> Window:
        off, length = self._windows[k]
        got = 0
        while got < length:
            # Lengths past the end are rounded up: a short read ends the file.
            want = -(-(length - got) // _ALIGN) * _ALIGN
            n = os.preadv(self._fd, [memoryview(buf)[got : got + want]], off + got)
            if n <= 0:
                break
            got += n
        return Window(off, min(got, length), buf)

    def _take_free(self) -> mmap.mmap | None:
        while not self._stop.is_set():
            try:
                return self._free.get(timeout=_POLL)
            except queue.Empty:
                continue
        return None

    def __iter__(self) -> Iterator[Window]:
        for k in range(len(self._windows)):
            with self._arrived:
                while k not in self._read:
                    self._arrived.wait()
                item = self._read.pop(k)
            if isinstance(item, BaseException):
                raise item
            yield item
            self._free.put(item.data)  # the consumer has moved on

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> DirectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DirectSpans:
    """The spans of one packet file that a dense read needs, read ahead with
    ``O_DIRECT`` (``PacketFileMap.records``' ``spans``).  Positions must be
    asked for in increasing order, as the windows are read once, in order."""

    def __init__(
        self,
        path: str,
        positions: Sequence[int],
        block_size: int,
        size: int,
        window: int = WINDOW_BYTES,
    ) -> None:
        self._block_size = block_size
        windows = windows_for(positions, window_size(block_size, window), size)
        self._reader = DirectReader(path, windows)
        self._windows = iter(self._reader)
        self._span: tuple[Any, int, int] = (ffi.NULL, 0, 0)

    def span_for(self, position: int) -> tuple[Any, int, int]:
        """(bytes, file offset, length) of the window holding ``position``'s
        block; ``length`` is 0 if no window does (the file ended first)."""
        block_size = self._block_size
        block = position // block_size * block_size
        data, offset, length = self._span
        while not (offset <= block and block + block_size <= offset + length):
            window = next(self._windows, None)
            if window is None or window.pos > block:
                return (ffi.NULL, 0, 0)
            data, offset, length = (
                ffi.from_buffer("uint8_t[]", window.data),
                window.pos,
                window.length,
            )
            self._span = (data, offset, length)
        return self._span

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> DirectSpans:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
