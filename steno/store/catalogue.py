"""The catalogue: the sealed files of a store, per thread, with their time ranges.

A file is in the catalogue when both halves of its pair are visible (its
index is the commit marker: see ``store/sealing.py``).  Index files may be
steno's own or upstream Stenographer's (a LevelDB table; see
``docs/upstream-compat.md``), so a store written by either program, or by both
in turn, is one catalogue.

Time ranges prune files for a query.  Steno's index header holds the exact
first and last packet time.  An upstream index holds none, so its file is
given the span from its name (the time it was opened) to the next file's
name, widened by ``UPSTREAM_SLACK_NS`` on both sides: blocks wait in the
kernel before they are written, so a file can hold packets from before its
name.  A wide range only costs reading a file that turns out to have nothing;
the answer stays exact because every packet's own time is checked.
"""

from __future__ import annotations

import enum
import mmap
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from steno.native.index import IndexOpenError, IndexReader
from steno.store.naming import ThreadDirs, is_hidden, parse_micros
from steno.store.upstream_index import is_upstream_index

UPSTREAM_BLOCK_SIZE = 1 << 20
UPSTREAM_SLACK_NS = 5 * 60 * 1_000_000_000
STENO_MAGIC = b"STENOIDX"
END_OF_TIME = 2**64 - 1


class IndexKind(enum.Enum):
    STENO = "steno"
    UPSTREAM = "upstream"


@attrs.frozen(kw_only=True)
class StoredFile:
    thread: int
    name: str
    packet_path: Path
    index_path: Path
    kind: IndexKind
    block_size: int
    first_ns: int
    """No packet of the file is older (for upstream files: an estimate that errs wide)."""
    last_ns: int
    """No packet of the file is newer (inclusive)."""
    packet_bytes: int = 0
    index_bytes: int = 0
    packet_dev: int = 0
    """st_dev of the packet file: which file system it lives on (retention)."""
    index_dev: int = 0


@attrs.frozen
class Problem:
    """A file left out of an answer, and why, for the person who asked."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@attrs.frozen
class Catalogue:
    threads: tuple[tuple[StoredFile, ...], ...]
    problems: tuple[Problem, ...] = ()

    @property
    def files(self) -> int:
        return sum(len(t) for t in self.threads)

    @classmethod
    def scan(
        cls,
        stores: Sequence[ThreadDirs],
        *,
        upstream_block_size: int = UPSTREAM_BLOCK_SIZE,
        previous: Catalogue | None = None,
        verify: bool = False,
    ) -> Catalogue:
        """The store as it is now.  Files already in `previous` are not opened
        again (a rescan costs one directory listing per thread); new steno
        index files are checked whole (their checksum) when `verify` is set."""
        threads = []
        problems: list[Problem] = []
        for i, dirs in enumerate(stores):
            known = (
                {f.name: f for f in previous.threads[i]}
                if previous is not None and i < len(previous.threads)
                else {}
            )
            files, trouble = scan_thread(
                dirs, upstream_block_size=upstream_block_size, known=known, verify=verify
            )
            threads.append(files)
            problems.extend(trouble)
        return cls(tuple(threads), tuple(problems))


def _visible_files(path: Path) -> set[str]:
    """Names of the regular files (or links to them) a directory lists, dot files
    and foreign names left out.  One listing, no stat per file (d_type)."""
    try:
        with os.scandir(path) as entries:
            return {
                e.name
                for e in entries
                if not is_hidden(e.name)
                and parse_micros(e.name) is not None
                and e.is_file(follow_symlinks=True)
            }
    except FileNotFoundError:
        return set()


def _sealed_names(dirs: ThreadDirs) -> list[str]:
    """Names whose index and packet file are both visible, oldest first.

    Two directory listings per scan whatever the store's size: the daemon
    rescans every second, and a store holds tens of thousands of files."""
    paired = _visible_files(dirs.index) & _visible_files(dirs.packets)
    return sorted(paired, key=int)


def _kind_of(path: Path) -> IndexKind | None:
    with open(path, "rb") as f:
        head = f.read(len(STENO_MAGIC))
        if head == STENO_MAGIC:
            return IndexKind.STENO
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - 64))
        if is_upstream_index(f.read(64)):
            return IndexKind.UPSTREAM
    return None


def _steno_entry(dirs: ThreadDirs, name: str, *, verify: bool) -> StoredFile:
    path = dirs.index_path(name)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) if size else b""
    try:
        # The structure is always checked; the whole-file checksum when asked
        # (the daemon checks each file once, when it first sees it).
        with IndexReader(data, verify_crc=verify) as index:
            info = index.info
    finally:
        if isinstance(data, mmap.mmap):
            data.close()
    return _with_sizes(
        StoredFile(
            thread=dirs.thread,
            name=name,
            packet_path=dirs.packet_path(name),
            index_path=path,
            kind=IndexKind.STENO,
            block_size=info.block_size,
            first_ns=info.first_ns,
            last_ns=info.last_ns,
        )
    )


def _with_sizes(f: StoredFile) -> StoredFile:
    p, i = os.stat(f.packet_path), os.stat(f.index_path)
    return attrs.evolve(
        f, packet_bytes=p.st_size, index_bytes=i.st_size, packet_dev=p.st_dev, index_dev=i.st_dev
    )


def scan_thread(
    dirs: ThreadDirs,
    *,
    upstream_block_size: int = UPSTREAM_BLOCK_SIZE,
    known: Mapping[str, StoredFile] | None = None,
    verify: bool = False,
) -> tuple[tuple[StoredFile, ...], list[Problem]]:
    names = _sealed_names(dirs)
    files: list[StoredFile] = []
    problems: list[Problem] = []
    known = known or {}
    for i, name in enumerate(names):
        path = dirs.index_path(name)
        seen = known.get(name)
        if seen is not None and (seen.kind is IndexKind.STENO or i + 1 < len(names)):
            # (An upstream file's range ends at the next file's name, so the
            # newest one is worked out again once a newer one exists.)
            files.append(seen)
            continue
        try:
            kind = _kind_of(path)
            if kind is IndexKind.STENO:
                files.append(_steno_entry(dirs, name, verify=verify))
            elif kind is IndexKind.UPSTREAM:
                opened = int(name) * 1000
                following = int(names[i + 1]) * 1000 if i + 1 < len(names) else END_OF_TIME
                files.append(
                    _with_sizes(
                        StoredFile(
                            thread=dirs.thread,
                            name=name,
                            packet_path=dirs.packet_path(name),
                            index_path=path,
                            kind=IndexKind.UPSTREAM,
                            block_size=upstream_block_size,
                            first_ns=max(0, opened - UPSTREAM_SLACK_NS),
                            last_ns=min(END_OF_TIME, following + UPSTREAM_SLACK_NS),
                        )
                    )
                )
            else:
                problems.append(Problem(path, "not an index file (neither steno's nor upstream's)"))
        except (IndexOpenError, OSError) as exc:
            problems.append(Problem(path, str(exc.strerror or exc)))
    return tuple(files), problems
