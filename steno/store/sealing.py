"""Making a finished packet file and its index visible, durably.

The order is the whole point.  A query (or upstream's stenographer) lists the
index directory and trusts what it finds, so a visible name must only ever
point at complete, durable data:

1. the packet file is truncated to its good length and fdatasync'ed;
2. the index is written under its hidden name and fsync'ed;
3. the packet file is renamed to its visible name, then the index;
4. both directories are fsync'ed, so the renames survive a power cut.

A crash before step 3 leaves only hidden files; a crash between the two
renames leaves a visible packet file with a hidden (complete) index.  Both are
what recovery (``store/lifecycle.py``) repairs at the next start.
"""

from __future__ import annotations

import os
from pathlib import Path

from steno.store.naming import ThreadDirs, hidden


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def finish_packet_file(fd: int, size: int) -> None:
    """Step 1: cut preallocated or failed tail space, sync, close.  Closes fd always."""
    try:
        os.ftruncate(fd, size)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def write_hidden_index(dirs: ThreadDirs, name: str, data: bytes) -> None:
    """Step 2: the index under its hidden name, synced."""
    path = dirs.index_path(hidden(name))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(dirs: ThreadDirs, name: str, *, with_index: bool) -> None:
    """Steps 3 and 4: packet file first, then its index, then the directories."""
    os.rename(dirs.packet_path(hidden(name)), dirs.packet_path(name))
    if with_index:
        os.rename(dirs.index_path(hidden(name)), dirs.index_path(name))
    fsync_dir(dirs.packets)
    if with_index:
        fsync_dir(dirs.index)
