"""Names of packet and index files, and of the per-thread directories.

Upstream's layout, kept so either program's files work with the other's tools:
thread N writes under ``<dir>/PKT<N>/`` and ``<dir>/IDX<N>/``; a packet file and
its index share one name, the decimal number of microseconds since the epoch at
which the file was opened (16 digits for current dates, so string order is time
order).  While a file is being written its name starts with a dot, and nothing
that lists the directories for queries looks at dot files.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

HIDDEN_PREFIX = "."


def is_hidden(name: str) -> bool:
    return name.startswith(HIDDEN_PREFIX)


def hidden(name: str) -> str:
    """The name a file has while it is being written."""
    return HIDDEN_PREFIX + name


def visible(name: str) -> str:
    """The name a hidden file gets when it is sealed."""
    return name[len(HIDDEN_PREFIX) :] if is_hidden(name) else name


def file_name(micros: int) -> str:
    return str(micros)


def parse_micros(name: str) -> int | None:
    """The open time of a file from its (visible or hidden) name, or None if foreign."""
    digits = visible(name)
    if not digits.isascii() or not digits.isdigit():
        return None
    return int(digits)


@attrs.frozen
class ThreadDirs:
    """Where thread ``thread`` keeps its packet and index files."""

    thread: int
    packets: Path
    index: Path

    @classmethod
    def under(cls, base: str | os.PathLike[str], thread: int) -> ThreadDirs:
        root = Path(base)
        return cls(thread, root / f"PKT{thread}", root / f"IDX{thread}")

    def packet_path(self, name: str) -> Path:
        return self.packets / name

    def index_path(self, name: str) -> Path:
        return self.index / name


class NameClock:
    """Hands out file names from the wall clock, never the same one twice.

    Two rotations within one microsecond (or a clock step backwards) would
    otherwise give two files one name; the second would then fail to open with
    O_EXCL, or worse, sort before its predecessor.
    """

    def __init__(self) -> None:
        self._last = 0

    def next_name(self, now_ns: int) -> str:
        micros = max(now_ns // 1000, self._last + 1)
        self._last = micros
        return file_name(micros)
