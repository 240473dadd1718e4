"""Reading the blocks a dense query needs with ``O_DIRECT``, ahead of their use.

Why: steno's stenotype writes packet files with ``O_DIRECT``, so the data an
analyst asks about is usually not in the page cache.  A broad query over such
a file reads most of its blocks.  Through the page cache (the file's map, or
buffered ``pread``) every page is first filled by the device and then touched
by the CPU once more; on this project's test VM that costs 2-5 s of CPU per
GB (the first touch of each freshly filled page is what is slow), which on
two cores is what held a cold broad query to half the disk's rate.
``O_DIRECT`` moves the blocks straight into a few buffers that are used again
and again.  The reads happen in a thread of their own (``preadv`` releases
the GIL), ``DEPTH`` windows ahead of the consumer, so the device stays busy
while packets are extracted.

Only for cold, dense reads: a file already cached is read faster through its
map, and a sparse read wants a few pages per block, not whole blocks (see
``PacketFileMap.prefetch``).  What was read this way is not cached: a second
broad query over the same cold data reads the device again, at its rate.
"""

from __future__ import annotations

import mmap
import os
import queue
import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

import attrs

from steno.native._steno import ffi

WINDOW_BYTES = 4 << 20
"""Bytes one read asks for (whole blocks; at least one block)."""
DEPTH = 2
"""Windows read ahead of the one being consumed."""
_ALIGN = 4096
"""``O_DIRECT`` wants offsets, lengths and buffers aligned to the device's
logical block; a page is a multiple of every such block here."""
_POLL = 0.1


@attrs.frozen
class Window:
    """File bytes [pos, pos + length) held in ``data`` (valid until the next one is asked for)."""

    pos: int
    length: int
    data: mmap.mmap


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
    """Reads the given windows of a file, in order, ``depth`` ahead, with O_DIRECT.

    Iterate to get each ``Window``; its buffer is reused once the next window
    is asked for.  A read error is raised (as ``OSError``) where the window
    it was for would have come.  ``close`` (or leaving the ``with``) stops the
    thread after the read in progress.  Opening raises ``OSError`` when the
    file system refuses ``O_DIRECT`` (tmpfs, for one): read it another way.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        windows: Sequence[tuple[int, int]],
        *,
        depth: int = DEPTH,
    ) -> None:
        self._windows = list(windows)
        for off, _ in self._windows:
            if off % _ALIGN:
                raise ValueError(f"window at {off} is not aligned to {_ALIGN} bytes")
        self._fd = os.open(path, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC)
        biggest = max((length for _, length in self._windows), default=0)
        capacity = -(-biggest // _ALIGN) * _ALIGN or _ALIGN
        self._free: queue.Queue[mmap.mmap] = queue.Queue()
        for _ in range(depth + 1):
            self._free.put(mmap.mmap(-1, capacity))
        self._ready: queue.Queue[Window | BaseException | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._read_all, name="steno-direct-read", daemon=True
        )
        self._thread.start()

    def _read_all(self) -> None:
        try:
            for off, length in self._windows:
                buf = self._take_free()
                if buf is None:
                    return
                got = 0
                while got < length:
                    # Lengths past the end are rounded up: a short read ends the file.
                    want = -(-(length - got) // _ALIGN) * _ALIGN
                    n = os.preadv(self._fd, [memoryview(buf)[got : got + want]], off + got)
                    if n <= 0:
                        break
                    got += n
                self._ready.put(Window(off, min(got, length), buf))
            self._ready.put(None)
        except BaseException as exc:  # handed to the consumer, in order
            self._ready.put(exc)

    def _take_free(self) -> mmap.mmap | None:
        while not self._stop.is_set():
            try:
                return self._free.get(timeout=_POLL)
            except queue.Empty:
                continue
        return None

    def __iter__(self) -> Iterator[Window]:
        previous: Window | None = None
        while True:
            item = self._ready.get()
            if previous is not None:
                self._free.put(previous.data)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            previous = item
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> DirectReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
        windows = windows_for(positions, window_size(block_size, window), size)
        self._reader = DirectReader(path, windows)
        self._windows = iter(self._reader)
        self._span: tuple[Any, int, int] = (ffi.NULL, 0, 0)

    def span_for(self, position: int, block_size: int) -> tuple[Any, int, int]:
        """(bytes, file offset, length) of the window holding ``position``'s
        block; ``length`` is 0 if no window does (the file ended first)."""
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
