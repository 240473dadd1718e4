"""What retention deletes, decided from sizes, limits and free space (pure).

Upstream's rules, kept: per thread at most ``MaxDirectoryFiles`` files, and at
least ``DiskFreePercentage`` of the disk free, oldest files first, a packet
file always with its index.  Its faults, fixed here:

* **Every file system is measured**, the index directories' too (upstream
  only looked at the packet directory's).
* **Threads sharing a file system are one pool**: the oldest files across all
  of them go first (upstream let one thread delete its own files until the
  threshold was met, issue #214).  The threshold of a shared file system is
  the largest its threads ask for.
* **Just enough**: the bytes to free are computed from the file system's own
  numbers, minus what was deleted but is still held open by a query (its space
  returns when the query ends), and files are deleted only until that much is
  freed -- not "one newest file's worth per round, until the numbers catch
  up" (upstream, issue #189).
* **A disk full of someone else's data** deletes what steno owns and then
  reports the shortfall, instead of looping forever.
* **Age**: a thread may also keep at most ``MaxAgeHours`` of packets (steno).

Nothing here touches a file: the cleanup actor measures, calls
:func:`plan_deletions`, and deletes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

import attrs


class Reason(enum.Enum):
    MAX_FILES = "max_files"
    MAX_AGE = "max_age"
    DISK_FREE = "disk_free"


@attrs.frozen(kw_only=True)
class Candidate:
    """A sealed file pair as retention sees it."""

    thread: int
    name: str
    first_ns: int
    last_ns: int
    packet_bytes: int
    index_bytes: int
    packet_fs: int
    """An identifier of the file system holding the packet file (st_dev)."""
    index_fs: int

    def bytes_on(self, fs: int) -> int:
        return (self.packet_bytes if self.packet_fs == fs else 0) + (
            self.index_bytes if self.index_fs == fs else 0
        )


@attrs.frozen(kw_only=True)
class ThreadLimits:
    max_files: int
    disk_free_percent: int
    max_age_ns: int | None = None


@attrs.frozen(kw_only=True)
class FsUsage:
    total_bytes: int
    available_bytes: int
    pending_bytes: int = 0
    """Deleted by retention but still held open (by a running query)."""


@attrs.frozen
class Deletion:
    file: Candidate
    reason: Reason


@attrs.frozen
class Shortfall:
    """A file system stays below its threshold with nothing of ours left to delete."""

    fs: int
    missing_bytes: int


def _key(c: Candidate) -> tuple[int, str, int]:
    return (int(c.name) if c.name.isdigit() else c.first_ns // 1000, c.name, c.thread)


def plan_deletions(
    files: Mapping[int, Sequence[Candidate]],
    limits: Mapping[int, ThreadLimits],
    usage: Mapping[int, FsUsage],
    now_ns: int,
) -> tuple[list[Deletion], list[Shortfall]]:
    """The files to delete (oldest first) and any shortfalls, per the rules above.

    `files` holds each thread's sealed files; `usage` each file system they
    live on.  The newest file of a thread is never deleted for space: it may
    be what a query is about to read, and freeing it cannot beat the capture
    that fills the disk.
    """
    chosen: dict[tuple[int, str], Deletion] = {}

    for thread, thread_files in files.items():
        lim = limits[thread]
        ordered = sorted(thread_files, key=_key)
        excess = len(ordered) - lim.max_files
        for c in ordered[: max(0, excess)]:
            chosen[(c.thread, c.name)] = Deletion(c, Reason.MAX_FILES)
        if lim.max_age_ns is not None:
            for c in ordered:
                if c.last_ns and c.last_ns < now_ns - lim.max_age_ns:
                    chosen.setdefault((c.thread, c.name), Deletion(c, Reason.MAX_AGE))

    shortfalls: list[Shortfall] = []
    for fs, use in usage.items():
        percent = max(
            (
                limits[t].disk_free_percent
                for t, tf in files.items()
                if any(fs in (c.packet_fs, c.index_fs) for c in tf)
            ),
            default=0,
        )
        if not percent or not use.total_bytes:
            continue
        freed = use.pending_bytes + sum(d.file.bytes_on(fs) for d in chosen.values())
        needed = percent * use.total_bytes // 100 - use.available_bytes - freed
        if needed <= 0:
            continue
        newest = {t: max(tf, key=_key) for t, tf in files.items() if tf}
        pool = sorted(
            (
                c
                for t, tf in files.items()
                for c in tf
                if c.bytes_on(fs) and (c.thread, c.name) not in chosen and c is not newest.get(t)
            ),
            key=_key,
        )
        for c in pool:
            if needed <= 0:
                break
            chosen[(c.thread, c.name)] = Deletion(c, Reason.DISK_FREE)
            needed -= c.bytes_on(fs)
        if needed > 0:
            shortfalls.append(Shortfall(fs, needed))

    return sorted(chosen.values(), key=lambda d: _key(d.file)), shortfalls
