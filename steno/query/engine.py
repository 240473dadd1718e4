"""Running a plan over a store: index look-ups, packet reads, merge, pcap out.

For each thread, files are taken oldest first; for each file the plan's key
expression is evaluated on its index (steno's: key ranges → flow ids → set
algebra on flow ids in C → positions; upstream's: key ranges → positions →
set algebra on positions), the packets at those positions are read straight
from the mapped packet file -- or, for a dense read of a file that is not in
the page cache, from its blocks read ahead with O_DIRECT
(``native/direct_read.py``) -- with their exact time checked against the
term's window, and written as pcap records (C, ``native/extract.py``).  A
query with a time condition alone needs no positions: every packet of the
blocks its window covers (by the index's block table) is read and kept if
its time is in the window (``_scan_file``).  The threads'
record streams are merged in time order (C), cut at the query's limits with
upstream's semantics (C), and handed out as chunks as they are found.

Memory is bounded by one file's position list (at most a 4 GiB file's worth)
plus one chunk per thread, and, while a thread reads a file with O_DIRECT,
that file's read buffers (16 MiB), whatever the size of the answer.  Stopping
the iteration (a limit reached, a client gone, a cancellation) closes every
file at once.

A file that cannot be read -- a torn or foreign index, a packet file that
does not match its index -- is left out, named in ``QueryRun.problems`` with
the reason, and the answer goes on from the other files: never a crash, never
garbage packets.
"""

from __future__ import annotations

import enum
import mmap
import os
from array import array
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import attrs

from steno.native._steno import ffi
from steno.native.direct_read import DirectSpans, can_read_direct, worth_reading_direct
from steno.native.extract import (
    NO_TIME_LIMIT,
    PacketFileCorrupt,
    PacketFileMap,
    pcap_file_header,
)
from steno.native.index import IndexOpenError, IndexReader
from steno.native.pcapstream import (
    UNLIMITED,
    Budget,
    Merger,
    MergeStatus,
    pcapng_blocks,
    pcapng_header,
)
from steno.native.setops import intersect, union
from steno.query.mapped_files import MappedFiles
from steno.query.plan import (
    AllOf,
    AnyOf,
    Everything,
    KeyExpr,
    Lookup,
    Plan,
    Term,
)
from steno.store.catalogue import Catalogue, IndexKind, Problem, StoredFile
from steno.store.open_files import OpenFiles
from steno.store.upstream_index import UpstreamIndex, UpstreamIndexError

SNAPLEN = 262144
"""Fits jumbo frames and whatever else the kernel captured whole (tcpdump's default)."""
CHUNK = 1 << 20
FIRST_CHUNK = 64 << 10
"""The first chunk of each thread's answer is this small, so that the first
packets leave as soon as they are read (cold, a 1 MiB chunk of a selective
answer is a thousand reads away)."""
PREFETCH = 8192
"""Positions whose pages a sparse read asks for at once (``PacketFileMap.prefetch``)."""
FIRST_PREFETCH = 256
"""...but only this many the first time in each file: the kernel queues all
that is asked for before the first of it arrives (one host, cold, on a
10 M-packet store built like the benchmark's: asking for the first 8192
positions' pages took 335 ms), and the first chunk needs no more than a few
hundred packets."""
PCAP_HEADER_CHARGE = 16
"""Upstream charged 16 bytes of the byte limit for the 24-byte file header."""


class OutputFormat(enum.Enum):
    PCAP = "pcap"
    """Classic pcap, microsecond timestamps: what upstream wrote and every tool reads."""
    PCAP_NS = "pcap-ns"
    """Classic pcap with nanosecond timestamps (the capture's full precision)."""
    PCAPNG = "pcapng"
    """pcapng, nanosecond timestamps."""


@attrs.frozen(kw_only=True)
class QueryOptions:
    output: OutputFormat = OutputFormat.PCAP
    limit_packets: int = 0
    """0: no limit."""
    limit_bytes: int = 0
    """0: no limit; counted as upstream did (16 + captured bytes per packet)."""
    verify_index_crc: bool = True


@attrs.define
class QueryRun:
    """What a query did, for logs and for the person who asked."""

    files_read: int = 0
    files_skipped: int = 0
    packets: int = 0
    bytes_out: int = 0
    problems: list[Problem] = attrs.Factory(list)
    limited: bool = False


_EVERY = object()
"""Marks "all flows / all positions" while evaluating, before it is materialized."""


class _FileQuery:
    """One file, opened for one query: its index, its mapped packets."""

    def __init__(
        self,
        stack: ExitStack,
        f: StoredFile,
        options: QueryOptions,
        open_files: OpenFiles | None,
        maps: MappedFiles | None,
    ) -> None:
        self.file = f
        if open_files is not None:
            stack.enter_context(open_files.hold(f.packet_path, f.index_path))
        self.packets = stack.enter_context(
            maps.use(f.packet_path, f.block_size)
            if maps is not None
            else PacketFileMap(f.packet_path, f.block_size)
        )
        self.steno: IndexReader | None = None
        self.upstream: UpstreamIndex | None = None
        if f.kind is IndexKind.STENO:
            with open(f.index_path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                data: Any = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ) if size else b""
            if isinstance(data, mmap.mmap):
                stack.callback(data.close)
            self.steno = stack.enter_context(IndexReader(data, verify_crc=options.verify_index_crc))
        else:
            self.upstream = stack.enter_context(
                UpstreamIndex.open(f.index_path, verify_checksums=options.verify_index_crc)
            )

    def blocks_in_time(self, window: tuple[int, int]) -> list[int]:
        """Indices of the blocks a query with only this time window reads:
        by the block table's exact times for steno's index; for upstream's
        (no such table), the span the block descriptors give (with slack)."""
        if self.steno is not None:
            return self.steno.blocks_in_time(*window).tolist()
        block_size = self.packets.block_size
        if window == NO_TIME_LIMIT:
            return list(range(self.packets.size // block_size))
        start, end = self.packets.blocks_in_time(*window)
        return list(range(start // block_size, end // block_size))

    def positions(self, expr: KeyExpr) -> array[int]:
        if self.steno is not None:
            flows = self._flows(expr)
            if flows is _EVERY:
                flows = array("I", range(self.steno.info.flows))
            assert isinstance(flows, array)
            return self.steno.positions(flows) if flows else array("I")
        found = self._upstream_positions(expr)
        if found is _EVERY:
            return self.packets.all_positions()
        assert isinstance(found, array)
        return found

    def _flows(self, expr: KeyExpr) -> array[int] | object:
        assert self.steno is not None
        match expr:
            case Lookup(key_type, lo, hi):
                if self.steno.key_width(key_type) != len(lo):
                    return array("I")
                return self.steno.flows_for_range(key_type, lo, hi)
            case AllOf(parts):
                return _intersect_all([self._flows(p) for p in parts])
            case AnyOf(parts):
                return _union_all([self._flows(p) for p in parts])
        return _EVERY if expr is Everything else array("I")

    def _upstream_positions(self, expr: KeyExpr) -> array[int] | object:
        assert self.upstream is not None
        match expr:
            case Lookup(key_type, lo, hi):
                lists = self.upstream.lists_in_range(key_type, lo, hi)
                return _union_all(list(lists))
            case AllOf(parts):
                return _intersect_all([self._upstream_positions(p) for p in parts])
            case AnyOf(parts):
                return _union_all([self._upstream_positions(p) for p in parts])
        return _EVERY if expr is Everything else array("I")


def _intersect_all(sets: list[array[int] | object]) -> array[int] | object:
    real = [s for s in sets if s is not _EVERY]
    if not real:
        return _EVERY
    real.sort(key=len)  # type: ignore[arg-type]
    acc = real[0]
    assert isinstance(acc, array)
    for s in real[1:]:
        if not acc:
            break
        assert isinstance(s, array)
        acc = intersect(acc, s)
    return acc


def _union_all(sets: list[array[int] | object]) -> array[int] | object:
    if any(s is _EVERY for s in sets):
        return _EVERY
    arrays = [s for s in sets if isinstance(s, array) and s]
    while len(arrays) > 1:  # pairwise, balanced: n log k
        arrays = [
            union(arrays[i], arrays[i + 1]) if i + 1 < len(arrays) else arrays[i]
            for i in range(0, len(arrays), 2)
        ]
    return arrays[0] if arrays else array("I")


def _clamp(term: Term, f: StoredFile) -> tuple[int, int]:
    """The term's window, or none at all if the whole file lies inside it."""
    if term.lo_ns <= f.first_ns and f.last_ns < term.hi_ns:
        return NO_TIME_LIMIT
    return (term.lo_ns, term.hi_ns)


def _direct_spans(
    stack: ExitStack, packets: PacketFileMap, positions: Sequence[int]
) -> DirectSpans | None:
    """For a dense read of a file that is not in the page cache: its blocks,
    read ahead with ``O_DIRECT`` (``steno.native.direct_read``).  None when
    the file is cached, the read selects less than a packet per page, or the
    file system refuses ``O_DIRECT``: read it through the map."""
    if not worth_reading_direct(positions):
        return None
    return _direct_blocks(stack, packets, positions)


def _direct_blocks(
    stack: ExitStack, packets: PacketFileMap, positions: Sequence[int]
) -> DirectSpans | None:
    """The blocks holding ``positions``, read with ``O_DIRECT`` unless the
    file is cached or its file system refuses it (None: use the map)."""
    if not can_read_direct(packets.block_size) or packets.cached(positions, 0, len(positions)):
        return None
    # The map's own file, by its descriptor: retention may have unlinked the name.
    path = f"/proc/self/fd/{packets.descriptor()}"
    try:
        return stack.enter_context(DirectSpans(path, positions, packets.block_size, packets.size))
    except OSError:
        return None


def _file_records(
    f: StoredFile,
    plan: Plan,
    options: QueryOptions,
    run: QueryRun,
    out: _Output,
    open_files: OpenFiles | None,
    maps: MappedFiles | None,
) -> Iterator[bytes]:
    terms = [t for t in plan.terms if t.lo_ns <= f.last_ns and f.first_ns < t.hi_ns]
    if not terms:
        return
    with ExitStack() as stack:
        try:
            fq = _FileQuery(stack, f, options, open_files, maps)
            if len(terms) == 1 and terms[0].keys is Everything:
                yield from _scan_file(stack, fq, _clamp(terms[0], f), options, run, out)
                return
            if len(terms) == 1:
                window = _clamp(terms[0], f)
                positions = fq.positions(terms[0].keys)
                if window != NO_TIME_LIMIT:
                    positions = fq.packets.within_blocks_in_time(positions, *window)
            else:
                kept = []
                for term in terms:
                    lo, hi = _clamp(term, f)
                    found = fq.positions(term.keys)
                    if (lo, hi) != NO_TIME_LIMIT:
                        found = fq.packets.within_blocks_in_time(found, lo, hi)
                        if not fq.packets.is_sparse(found):
                            # Each packet's time is read: readahead, not a fault a page.
                            fq.packets.read_sequentially()
                        found = fq.packets.positions_in_time(found, lo, hi)
                    kept.append(found)
                merged = _union_all(list(kept))
                assert isinstance(merged, array)
                positions, window = merged, NO_TIME_LIMIT
            run.files_read += 1
            start = prefetched = 0
            sparse = fq.packets.is_sparse(positions)
            spans = None if sparse else _direct_spans(stack, fq.packets, positions)
            if not sparse and spans is None:
                fq.packets.read_sequentially()
            while start < len(positions):
                if sparse and start >= prefetched:
                    step = PREFETCH if start else FIRST_PREFETCH
                    prefetched = min(len(positions), start + step)
                    fq.packets.prefetch(positions, start, prefetched)
                got = fq.packets.records(
                    positions,
                    start,
                    out.buffer,
                    out.take(),
                    time_lo=window[0],
                    time_hi=window[1],
                    nano=options.output is not OutputFormat.PCAP,
                    snaplen=SNAPLEN,
                    spans=spans,
                    end=prefetched if sparse else None,
                )
                start += got.consumed
                if got.data:
                    yield got.data
        except (IndexOpenError, UpstreamIndexError, PacketFileCorrupt, OSError, ValueError) as exc:
            run.files_skipped += 1
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            run.problems.append(Problem(f.index_path, reason))


def _scan_file(
    stack: ExitStack,
    fq: _FileQuery,
    window: tuple[int, int],
    options: QueryOptions,
    run: QueryRun,
    out: _Output,
) -> Iterator[bytes]:
    """A query with no key condition (a time window, or none): every packet
    of the blocks the window covers, read block by block with no index
    look-up.  A position list would cost a sort of every packet of the file
    before the first is sent (on the benchmark's store, 50-80 ms a file)."""
    packets, block_size = fq.packets, fq.packets.block_size
    blocks = fq.blocks_in_time(window)
    run.files_read += 1
    if not blocks:
        return
    # Probed mid-block: upstream's descriptors, read to find the blocks, are cached.
    spans = _direct_blocks(stack, packets, [k * block_size + block_size // 2 for k in blocks])
    if spans is None:
        packets.read_sequentially()
    for first, last in _runs(blocks):
        start, end = first * block_size, (last + 1) * block_size
        while start < end:
            got = packets.scan(
                start,
                end,
                out.buffer,
                out.take(),
                time_lo=window[0],
                time_hi=window[1],
                nano=options.output is not OutputFormat.PCAP,
                snaplen=SNAPLEN,
                spans=spans,
            )
            start = got.next
            if got.data:
                yield got.data


def _runs(blocks: list[int]) -> Iterator[tuple[int, int]]:
    """(first, last) of each run of consecutive numbers in ``blocks`` (ascending)."""
    first = prev = blocks[0]
    for k in blocks[1:]:
        if k != prev + 1:
            yield first, prev
            first = k
        prev = k
    yield first, prev


class _Output:
    """A thread's output buffer, and how much of it the next chunk may fill:
    ``FIRST_CHUNK`` once, then ``CHUNK``.  (A record too big for the first
    chunk's room is simply read again into a whole one.)"""

    def __init__(self) -> None:
        self.buffer = ffi.new("uint8_t[]", CHUNK)
        self._room = FIRST_CHUNK

    def take(self) -> int:
        room, self._room = self._room, CHUNK
        return room


def _thread_records(
    files: Sequence[StoredFile],
    plan: Plan,
    options: QueryOptions,
    run: QueryRun,
    open_files: OpenFiles | None,
    maps: MappedFiles | None,
) -> Iterator[bytes]:
    out = _Output()
    for f in files:
        if plan.overlaps(f.first_ns, f.last_ns):
            yield from _file_records(f, plan, options, run, out, open_files, maps)


def _merged(streams: list[Iterator[bytes]]) -> Iterator[bytes]:
    if len(streams) == 1:
        yield from streams[0]
        return
    merger = Merger(len(streams), CHUNK)
    for i, stream in enumerate(streams):
        chunk = next(stream, None)
        merger.feed(i, chunk or b"", done=chunk is None)
    while True:
        data, status, which = merger.merge()
        if data:
            yield data
        if status is MergeStatus.END:
            return
        if status is MergeStatus.NEED_INPUT:
            chunk = next(streams[which], None)
            merger.feed(which, chunk or b"", done=chunk is None)


def run_query(
    plan: Plan,
    catalogue: Catalogue,
    options: QueryOptions = QueryOptions(),
    run: QueryRun | None = None,
    open_files: OpenFiles | None = None,
    maps: MappedFiles | None = None,
) -> Iterator[bytes]:
    """The answer as pcap bytes, in chunks: the file header first, then records
    in time order.  Fill in ``run`` to learn what was read and what was left out.
    With ``maps``, packet files are mapped through it (kept for later queries)."""
    run = run if run is not None else QueryRun()
    run.problems.extend(catalogue.problems)
    pcapng = options.output is OutputFormat.PCAPNG
    header = (
        pcapng_header(snaplen=SNAPLEN)
        if pcapng
        else pcap_file_header(nano=options.output is OutputFormat.PCAP_NS, snaplen=SNAPLEN)
    )
    run.bytes_out += len(header)
    yield header
    budget = Budget(
        packets=options.limit_packets or UNLIMITED,
        nbytes=(options.limit_bytes - PCAP_HEADER_CHARGE) if options.limit_bytes else UNLIMITED,
    )
    if budget.nbytes <= 0:
        run.limited = True
        return
    streams = [
        _thread_records(files, plan, options, run, open_files, maps)
        for files in catalogue.threads
        if files
    ]
    if not streams:
        return
    packets_at_start = budget.packets
    try:
        for chunk in _merged(streams):
            keep, stop = budget.cut(chunk)
            run.packets = packets_at_start - budget.packets
            if keep:
                piece = chunk[:keep] if keep < len(chunk) else chunk
                if pcapng:
                    piece = pcapng_blocks(piece)
                run.bytes_out += len(piece)
                yield piece
            if stop:
                run.limited = True
                return
    finally:
        for stream in streams:
            stream.close()  # type: ignore[attr-defined]
