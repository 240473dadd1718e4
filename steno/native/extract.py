"""Typed wrapper of ``c/extract.h``: pcap records out of packet-file blocks.

One call per block (1 MiB by default): Python moves blocks and position
lists, C walks the packets.  See ``steno.store.packet_file`` for whole files.
"""

from __future__ import annotations

import errno
import mmap
import os
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import attrs

from steno.native._steno import ffi, lib

PCAP_FILE_HEADER_LEN: int = lib.STENO_PCAP_FILE_HEADER_LEN
DEFAULT_SNAPLEN = 65536
LINKTYPE_ETHERNET = 1


class BlockError(ValueError):
    """A block that is not a well-formed TPACKET_V3 block of this size."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code  # errno.EINVAL: not a block at all; errno.EBADMSG: bad chain


@attrs.frozen
class BlockInfo:
    num_pkts: int
    blk_len: int
    seq_num: int
    first_ns: int
    last_ns: int


@attrs.frozen
class Extracted:
    data: bytes  # pcap records, back to back
    packets: int
    vlan_restored: int
    consumed: int  # positions used from the list given


def pcap_file_header(
    *, nano: bool = False, snaplen: int = DEFAULT_SNAPLEN, linktype: int = LINKTYPE_ETHERNET
) -> bytes:
    out = ffi.new("uint8_t[24]")
    lib.steno_pcap_file_header(out, lib.STENO_PCAP_NANO if nano else 0, snaplen, linktype)
    return bytes(ffi.buffer(out, 24))


def _block_error(rc: int) -> BlockError:
    what = "not a TPACKET_V3 block" if rc == -errno.EINVAL else "inconsistent packet chain"
    return BlockError(-rc, what)


def block_info(block: bytes | bytearray | memoryview) -> BlockInfo:
    """Checks a block (its whole length is the block size); raises BlockError."""
    info = ffi.new("struct steno_extract_block_info *")
    with ffi.from_buffer("uint8_t[]", block) as cblock:
        rc = lib.steno_extract_block_info(cblock, len(block), info)
    if rc < 0:
        raise _block_error(rc)
    return BlockInfo(info.num_pkts, info.blk_len, info.seq_num, info.first_ns, info.last_ns)


class Extractor:
    """Turns blocks into pcap records; holds one output buffer of block size."""

    def __init__(
        self, block_size: int, *, nano: bool = False, snaplen: int = DEFAULT_SNAPLEN
    ) -> None:
        if block_size < 48:
            raise ValueError("block_size is too small")
        self.block_size = block_size
        self.flags = lib.STENO_PCAP_NANO if nano else 0
        self.snaplen = snaplen
        self._out = ffi.new("uint8_t[]", block_size)

    def block(
        self,
        block: bytes | bytearray | memoryview,
        *,
        block_pos: int = 0,
        positions: array[int] | None = None,
        start: int = 0,
    ) -> Extracted:
        """Records of the packets of block (at file offset block_pos): all, or
        those at positions[start:] inside it (file offsets, increasing).
        Raises BlockError for a bad block, LookupError for a position that is
        not a packet."""
        if len(block) != self.block_size:
            raise ValueError(f"a block is {self.block_size} bytes, got {len(block)}")
        res = ffi.new("struct steno_extract_result *")
        with ffi.from_buffer("uint8_t[]", block) as cblock:
            if positions is None:
                rc = lib.steno_extract_block(
                    cblock,
                    self.block_size,
                    block_pos,
                    ffi.NULL,
                    0,
                    self.flags,
                    self.snaplen,
                    self._out,
                    self.block_size,
                    res,
                )
            else:
                if positions.typecode != "Q":
                    raise TypeError("positions must be an array('Q')")
                with ffi.from_buffer("uint64_t[]", positions) as cpos:
                    rc = lib.steno_extract_block(
                        cblock,
                        self.block_size,
                        block_pos,
                        cpos + start,
                        len(positions) - start,
                        self.flags,
                        self.snaplen,
                        self._out,
                        self.block_size,
                        res,
                    )
        if rc == -errno.ENOENT:
            raise LookupError(f"a position in the block at {block_pos} is not a packet")
        if rc == -errno.ERANGE:
            raise ValueError("positions must increase and lie at or after the block")
        if rc in (-errno.EINVAL, -errno.EBADMSG):
            raise _block_error(rc)
        if rc < 0:
            raise OSError(-rc, os.strerror(-rc))
        return Extracted(
            data=bytes(ffi.buffer(self._out, res.out_len)),
            packets=res.packets,
            vlan_restored=res.vlan_restored,
            consumed=res.consumed,
        )


class PacketFileCorrupt(ValueError):
    """A position does not point at a packet of a well-formed block: the packet
    file is torn, foreign, or not the one its index describes."""


@attrs.frozen
class PointRecords:
    """Records of some of the requested packets (see ``PacketFileMap.records``)."""

    data: bytes
    consumed: int
    packets: int
    out_of_time: int


@attrs.frozen
class ScanRecords:
    """Records of the packets in a range of blocks (see ``PacketFileMap.scan``)."""

    data: bytes
    next: int
    """The file offset to go on from: the range's end when it is done."""
    packets: int
    out_of_time: int


NO_TIME_LIMIT = (0, 2**64 - 1)
TIME_SLACK_NS = 1_000_000_000
"""How far a packet's time may lie outside its block's descriptor times, at
most (the kernel stamps a packet a little before the block it lands in may
open); far more than is ever seen, for safety."""
SPARSE_PER_BLOCK = 16
"""Fewer selected packets than this per block, on average: a sparse read (see
``PacketFileMap.prefetch``)."""
_PAGE = mmap.PAGESIZE


PREFETCH_PROBES = 16
"""Pages sampled to tell a warm read (nothing to ask for) from a cold one."""
PREFETCH_GAP_PAGES = 2
"""Pages wanted with at most this many pages between them are asked for as one
range: a few more kilobytes read costs less than another request."""


def prefetch_ranges(
    positions: array[int],
    block_size: int,
    size: int,
    page: int = _PAGE,
    gap: int = PREFETCH_GAP_PAGES,
) -> list[tuple[int, int]]:
    """(offset, length) byte ranges, page aligned, increasing, disjoint and within
    the file, covering for each position (increasing) its page, the next page
    and the first page of its block.  Wanted pages at most ``gap`` pages apart
    share a range."""
    ranges: list[tuple[int, int]] = []
    append = ranges.append
    first = last = -(gap + 2)  # the current range, in pages
    block = -1
    for pos in positions:
        if pos // block_size != block:
            block = pos // block_size
            head = block * block_size // page
            if head > last + 1 + gap:
                if first >= 0:
                    append((first, last))
                first = last = head
            elif head > last:
                last = head
        p = pos // page
        if p > last + 1 + gap:
            if first >= 0:
                append((first, last))
            first, last = p, p + 1
        elif p + 1 > last:
            last = p + 1
    if first >= 0:
        append((first, last))
    # The last page of a range may lie past the end of the file.
    return [
        (a * page, min((b - a + 1) * page, size - a * page)) for a, b in ranges if a * page < size
    ]


class Spans(Protocol):
    """Where a dense read finds the file's blocks instead of the map (see
    ``steno.native.direct_read.DirectSpans``)."""

    def span_for(self, position: int) -> tuple[Any, int, int]:
        """(bytes, file offset, length) of a span of whole blocks holding
        ``position``'s block, or a length of 0 if there is none."""
        ...


class PacketFileMap:
    """A whole packet file mapped into memory, for point reads at positions.

    The query path reads each selected packet where it lies -- never whole
    blocks -- so a selective query touches a few pages per packet, as
    upstream's two ``pread``s did, but without a system call per packet.  The
    map and its descriptor (for fadvise, cache probes, and opening the same
    file again for ``O_DIRECT``) hold the file open: a file deleted by
    retention meanwhile stays readable until ``close``.
    """

    def __init__(self, path: str | os.PathLike[str], block_size: int) -> None:
        self.path = os.fspath(path)
        self.block_size = block_size
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.size = os.fstat(self._fd).st_size
            self._map: mmap.mmap | None = (
                mmap.mmap(self._fd, self.size, access=mmap.ACCESS_READ) if self.size else None
            )
        except BaseException:
            os.close(self._fd)
            raise
        self._buf = ffi.from_buffer("uint8_t[]", self._map) if self._map is not None else ffi.NULL
        self._advice = mmap.MADV_NORMAL

    def descriptor(self) -> int:
        """The file's descriptor: the same file as the map, deleted or not."""
        return self._fd

    def close(self) -> None:
        if self._map is not None:
            ffi.release(self._buf)
            self._map.close()
            self._map = None
            self._buf = ffi.NULL
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> PacketFileMap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def is_sparse(self, positions: array[int]) -> bool:
        """Whether reading these positions touches few packets per block: a
        selective query, for which :meth:`prefetch` pays."""
        blocks = max(1, self.size // self.block_size)
        return 0 < len(positions) < SPARSE_PER_BLOCK * blocks

    def read_sequentially(self) -> None:
        """Marks the map for a dense read, front to back (``MADV_SEQUENTIAL``):
        each page fault on a cold file then has the kernel read well ahead,
        in the background, instead of a little around the fault.

        Measured on this project's test machine, reading a cold 500 MB file
        through its map: 1,420-1,660 MB/s in six runs of six with the advice;
        without it, half the runs managed only 430-470 MB/s.  Unlike asking
        for the range with ``POSIX_FADV_WILLNEED``, which fills the cache with
        single pages (a later query then takes twelve times the faults to map
        them), the readahead this drives caches large folios."""
        self._advise(mmap.MADV_SEQUENTIAL)

    def _advise(self, advice: int) -> None:
        """The map's access pattern: the last query's (a map may outlive its query)."""
        if self._map is not None and advice != self._advice:
            self._map.madvise(advice)
            self._advice = advice

    def prefetch(self, positions: array[int], start: int, end: int) -> None:
        """Asks the kernel to read, all at once and in the background, the pages
        that the packets at positions[start:end] lie on: each packet's page and
        the next (a packet may cross into it), and its block's first page (the
        block descriptor, which ``records`` checks).

        For sparse reads of a file that is not in the page cache.  Without
        this, each page fault on the map reads around the faulting page as far
        as the device's readahead reaches (8 MiB on a virtio disk), one fault
        at a time, so a query for one host reads most of every file.  After the
        first call the map is ``MADV_RANDOM`` (a fault reads its own page only)
        and the pages wanted are requested together (``MADV_WILLNEED``), so the
        disk sees one deep queue of small reads.  Pages already cached cost a
        look-up each.  Dense reads (most blocks, many packets each) are better
        served by plain readahead: see :meth:`is_sparse`."""
        if self._map is None or start >= end:
            return
        if self.cached(positions, start, end):
            return  # warm: asking would only cost system calls
        self._advise(mmap.MADV_RANDOM)
        # posix_fadvise rather than madvise: the same readahead, without the
        # map's lock, at half the cost per call when the pages are cached.
        fd, willneed = self._fd, os.POSIX_FADV_WILLNEED
        for off, length in prefetch_ranges(positions[start:end], self.block_size, self.size):
            os.posix_fadvise(fd, off, length, willneed)

    def cached(self, positions: Sequence[int], start: int, end: int) -> bool:
        """Whether a sample of the packets' pages is all in the page cache."""
        step = max(1, (end - start) // PREFETCH_PROBES)
        return self._all_cached(positions[i] for i in range(start, end, step))

    def _all_cached(self, offsets: Iterable[int]) -> bool:
        """Whether the page at each offset is in the page cache (a one-byte
        ``RWF_NOWAIT`` read fails if it is not, or if the kernel cannot say)."""
        probe = bytearray(1)
        try:
            for off in offsets:
                os.preadv(self._fd, [probe], off, os.RWF_NOWAIT)
        except OSError:  # BlockingIOError: not cached; others: assume cold
            return False
        return True

    def _corrupt(self, what: str) -> PacketFileCorrupt:
        return PacketFileCorrupt(f"{self.path}: {what}")

    def records(
        self,
        positions: array[int],
        start: int,
        out: Any,
        out_cap: int,
        *,
        time_lo: int = NO_TIME_LIMIT[0],
        time_hi: int = NO_TIME_LIMIT[1],
        nano: bool = False,
        snaplen: int = DEFAULT_SNAPLEN,
        spans: Spans | None = None,
        end: int | None = None,
    ) -> PointRecords:
        """pcap records of the packets at positions[start:end] (array('I'),
        increasing) with time in [time_lo, time_hi), into the cffi buffer
        ``out`` until it is full; ``consumed`` says how many positions were
        dealt with.

        The packets are read through the map, or from the spans that
        ``spans`` holds."""
        if positions.typecode != "I":
            raise TypeError("positions must be an array('I')")
        n = (len(positions) if end is None else min(end, len(positions))) - start
        if n <= 0:
            return PointRecords(b"", 0, 0, 0)
        if self._map is None:
            raise self._corrupt(f"position {positions[start]} in an empty file")
        res = ffi.new("struct steno_points_result *")
        flags = lib.STENO_PCAP_NANO if nano else 0
        done = packets = out_of_time = out_len = 0
        with ffi.from_buffer("uint32_t[]", positions) as cpos:
            while True:
                at = start + done
                if spans is None:
                    rc = lib.steno_extract_points(
                        self._buf, self.size, self.block_size, cpos + at, n - done,
                        time_lo, time_hi, flags, snaplen, out, out_cap, res,
                    )  # fmt: skip
                else:
                    span, span_at, span_len = spans.span_for(positions[at])
                    if not span_len:
                        rc = -errno.EBADMSG
                        break
                    rc = lib.steno_extract_span(
                        span, span_at, span_len, self.block_size,
                        cpos + at, n - done, time_lo, time_hi, flags, snaplen,
                        out + out_len, out_cap - out_len, res,
                    )  # fmt: skip
                done += res.consumed
                packets += res.packets
                out_of_time += res.out_of_time
                out_len += res.out_len
                if rc == 0 and res.past_span and not res.consumed:
                    rc = -errno.EBADMSG  # the span given does not hold the block
                if rc < 0 or not res.past_span or done == n:
                    break
        if rc == -errno.EBADMSG:
            bad = positions[start + done]
            raise self._corrupt(f"no packet at position {bad} (block {bad // self.block_size})")
        if rc < 0:
            raise ValueError("positions must be strictly increasing")
        return PointRecords(bytes(ffi.buffer(out, out_len)), done, packets, out_of_time)

    def scan(
        self,
        start: int,
        end: int,
        out: Any,
        out_cap: int,
        *,
        time_lo: int = NO_TIME_LIMIT[0],
        time_hi: int = NO_TIME_LIMIT[1],
        nano: bool = False,
        snaplen: int = DEFAULT_SNAPLEN,
        spans: Spans | None = None,
    ) -> ScanRecords:
        """pcap records of every packet in the file's bytes [start, end) with
        time in [time_lo, time_hi), into the cffi buffer ``out`` until it is
        full; resume at ``next`` (``end`` when the range is done).

        ``start`` is a block boundary or a previous call's ``next``; ``end``
        a block boundary.  No index is needed: this is how a query with no
        key condition reads.  The blocks are read through the map, or from
        the spans that ``spans`` holds."""
        if start >= end:
            return ScanRecords(b"", end, 0, 0)
        if self._map is None or end > self.size:
            raise self._corrupt(f"blocks up to {end} in a file of {self.size} bytes")
        res = ffi.new("struct steno_scan_result *")
        flags = lib.STENO_PCAP_NANO if nano else 0
        at, packets, out_of_time, out_len = start, 0, 0, 0
        while at < end:
            if spans is None:
                span, span_at, span_len = self._buf, 0, self.size
            else:
                span, span_at, span_len = spans.span_for(at)
                if not span_len:
                    raise self._corrupt(f"no block read at {at}")
            rc = lib.steno_extract_scan(
                span, span_at, span_len, self.block_size, at, end,
                time_lo, time_hi, flags, snaplen, out + out_len, out_cap - out_len, res,
            )  # fmt: skip
            packets += res.packets
            out_of_time += res.out_of_time
            out_len += res.out_len
            if rc == -errno.ENODATA:
                at = end  # the file's packets end here (see all_positions)
                break
            if rc == -errno.EBADMSG:
                raise self._corrupt(f"block {res.next // self.block_size} is corrupt")
            if rc < 0:
                raise ValueError(f"cannot scan [{start}, {end}) in blocks of {self.block_size}")
            if not res.past_span:
                at = res.next
                break  # done, or out is full
            if res.next == at:  # the span given does not hold the block
                raise self._corrupt(f"no block read at {at}")
            at = res.next  # on to the next span
        return ScanRecords(bytes(ffi.buffer(out, out_len)), at, packets, out_of_time)

    def blocks_in_time(self, time_lo: int, time_hi: int) -> tuple[int, int]:
        """[start, end) file offsets of the span of blocks where packets with
        time in [time_lo, time_hi) can be (``steno_blocks_in_time``: from the
        block descriptors alone, with ``TIME_SLACK_NS`` to spare)."""
        if self._map is None:
            return (0, 0)
        blocks = self.size // self.block_size
        self._read_block_descriptors(blocks)
        first = ffi.new("uint64_t *")
        end = ffi.new("uint64_t *")
        lib.steno_blocks_in_time(
            self._buf, self.size, self.block_size, time_lo, time_hi, TIME_SLACK_NS, first, end
        )
        return (first[0] * self.block_size, end[0] * self.block_size)

    def positions_in_time(self, positions: array[int], time_lo: int, time_hi: int) -> array[int]:
        """The positions whose packets are in [time_lo, time_hi)."""
        if not positions:
            return array("I")
        if self._map is None:
            raise self._corrupt("positions in an empty file")
        kept = array("I", bytes(4 * len(positions)))
        n = ffi.new("size_t *")
        with (
            ffi.from_buffer("uint32_t[]", positions) as cpos,
            ffi.from_buffer("uint32_t[]", kept) as ckept,
        ):
            rc = lib.steno_positions_in_time(
                self._buf,
                self.size,
                self.block_size,
                cpos,
                len(positions),
                time_lo,
                time_hi,
                ckept,
                n,
            )
        if rc == -errno.EBADMSG:
            raise self._corrupt("a position is not a packet")
        if rc < 0:
            raise ValueError("positions must be strictly increasing")
        del kept[n[0] :]
        return kept

    def within_blocks_in_time(
        self, positions: array[int], time_lo: int, time_hi: int
    ) -> array[int]:
        """Those positions that lie in the span of blocks where packets with
        time in [time_lo, time_hi) can be (``steno_blocks_in_time``: from the
        block descriptors alone, with ``TIME_SLACK_NS`` to spare) -- a
        superset of the packets in the window, found without reading the
        packets.  For a file that only partly overlaps a query's window."""
        if self._map is None or not positions:
            return positions
        first, end = self.blocks_in_time(time_lo, time_hi)
        lo = bisect_left(positions, first)
        hi = bisect_left(positions, end, lo)
        return positions if (lo, hi) == (0, len(positions)) else positions[lo:hi]

    def _read_block_descriptors(self, blocks: int) -> None:
        """Cold, asks for every block's first page at once (one deep queue of
        small reads) rather than a fault and a readahead per block."""
        step = max(1, blocks // PREFETCH_PROBES)
        if self._all_cached(k * self.block_size for k in range(0, blocks, step)):
            return  # the sample is cached: so, most likely, are the rest
        self._advise(mmap.MADV_RANDOM)
        willneed = os.POSIX_FADV_WILLNEED
        for k in range(blocks):
            os.posix_fadvise(self._fd, k * self.block_size, _PAGE, willneed)

    def all_positions(self) -> array[int]:
        """Every packet's position, up to the first block that is not a block."""
        result = array("I")
        if self._map is None:
            return result
        out = ffi.new("uint32_t **")
        n = ffi.new("size_t *")
        if lib.steno_packet_positions(self._buf, self.size, self.block_size, out, n) < 0:
            raise MemoryError("listing packet positions")
        if n[0]:
            try:
                result.frombytes(ffi.buffer(out[0], 4 * n[0]))
            finally:
                lib.steno_free(out[0])
        return result
