"""The index file format, read in pure Python: bytes in, tables out.

An index file is written once, by the capture side, when its packet file is
rotated (``steno/native/c/index_write.c``), and read many times by queries.
It is written hidden and made visible only after fsync and rename, so a
reader normally never sees a half-written file; but crashes, full disks,
copies by hand and old or foreign files still happen, and a reader must say
which one it is looking at rather than crash or return wrong packets.  This
module is the executable statement of the format (docs/index-format.md is the
prose one) and the independent second implementation that tests hold the C
writer and the C reader to.  It imports nothing but the standard library,
attrs and its sibling codecs: no trio, no cffi.

What a bad file looks like, and what :meth:`IndexFile.from_bytes` says:

* foreign (a packet file, a LevelDB table from upstream, zeros): the first
  8 bytes are not ``STENOIDX`` -> "not a steno index file";
* from a future major version: "index format version 2.0 is not readable";
  a newer *minor* version is read, skipping sections it does not know unless
  their directory entry is marked required;
* torn (cut short while written, or its tail never reached the disk): the
  last 8 bytes are not ``STENOEND``, or the trailer's length is not the
  file's -> "torn";
* corrupted (a flipped bit anywhere): the whole-file CRC-32C (and the header
  and section CRCs) -> "checksum mismatch";
* well framed but inconsistent (only a buggy or malicious writer): the
  structural checks name the table and entry.

Every error is an :class:`IndexFormatError`.  Lists are decoded lazily, when
looked up; :meth:`IndexFile.verify` decodes them all and checks the whole
file against itself (tests run it on every file the C writer produces).
"""

from __future__ import annotations

import bisect
import ipaddress
import itertools
import struct
from collections.abc import Iterator
from typing import Final

import attrs

from steno.store.crc32c import crc32c
from steno.store.postings import PostingsError, decode, peek

__all__ = [
    "KEY_IPV4",
    "KEY_IPV6",
    "KEY_MPLS",
    "KEY_PORT",
    "KEY_PROTO",
    "KEY_VLAN",
    "KEY_WIDTHS",
    "Block",
    "Header",
    "IndexFile",
    "IndexFormatError",
    "KeyValue",
    "Section",
    "encode_key",
]

MAGIC: Final = b"STENOIDX"
END_MAGIC: Final = b"STENOEND"
MAJOR: Final = 1
MINOR: Final = 0

HEADER_LEN: Final = 72
TRAILER_LEN: Final = 32
DIR_ENTRY_LEN: Final = 24
BLOCK_ENTRY_LEN: Final = 24
COLLECTION_HEAD_LEN: Final = 16
KEY_TABLE_HEAD_LEN: Final = 16

SEC_BLOCKS: Final = 1
SEC_FLOWS: Final = 2
SEC_KEYS: Final = 3
SEC_REQUIRED: Final = 1
COLL_CHAINED: Final = 1  # list collection flag: lists stored against the previous first value

KEY_PROTO: Final = 1
KEY_PORT: Final = 2
KEY_VLAN: Final = 3
KEY_IPV4: Final = 4
KEY_MPLS: Final = 5
KEY_IPV6: Final = 6
KEY_WIDTHS: Final = {KEY_PROTO: 1, KEY_PORT: 2, KEY_VLAN: 2, KEY_IPV4: 4, KEY_MPLS: 4, KEY_IPV6: 16}

_SECTION_NAMES: Final = {SEC_BLOCKS: "block table", SEC_FLOWS: "flows", SEC_KEYS: "key table"}


class IndexFormatError(ValueError):
    """The bytes are not a valid steno index file; the message says what is wrong."""


KeyValue = int | bytes | ipaddress.IPv4Address | ipaddress.IPv6Address


def _key_bytes(key_type: int, value: KeyValue) -> bytes:
    return value if isinstance(value, bytes) else encode_key(key_type, value)


def encode_key(key_type: int, value: KeyValue) -> bytes:
    """A key as the file stores it: fixed width, network byte order."""
    width = KEY_WIDTHS.get(key_type)
    if width is None:
        raise ValueError(f"unknown key type {key_type}")
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        value = value.packed
    if isinstance(value, bytes):
        if len(value) != width:
            raise ValueError(f"key of type {key_type} must be {width} bytes")
        return value
    return value.to_bytes(width, "big")


@attrs.frozen(kw_only=True)
class Header:
    major: int
    minor: int
    header_len: int
    block_size: int
    block_count: int
    packet_file_size: int
    packet_count: int
    first_ns: int
    last_ns: int
    flow_count: int
    flags: int


@attrs.frozen(kw_only=True)
class Block:
    """One entry of the block table: where a block is and when its packets were seen."""

    index: int
    packets: int
    first_ns: int
    last_ns: int


@attrs.frozen(kw_only=True)
class Section:
    type: int
    flags: int
    crc: int
    offset: int
    length: int


class _Collection:
    """A list collection: ``count`` posting lists with an anchor every 2**log2 lists."""

    def __init__(self, data: bytes, offset: int, length: int, what: str) -> None:
        if length < COLLECTION_HEAD_LEN:
            raise IndexFormatError(f"{what}: list collection header cut short")
        head: tuple[int, int, int, int, int, int] = struct.unpack_from("<IBBHII", data, offset)
        count, shift, log2, flags, nanchors, blob_len = head
        if shift > 31 or log2 > 16 or flags & ~COLL_CHAINED:
            raise IndexFormatError(f"{what}: list collection header is malformed")
        if nanchors != (count + (1 << log2) - 1) >> log2:
            raise IndexFormatError(f"{what}: {nanchors} anchors for {count} lists")
        if COLLECTION_HEAD_LEN + 4 * nanchors + blob_len != length:
            raise IndexFormatError(f"{what}: list collection does not fill its space")
        anchors: tuple[int, ...] = struct.unpack_from(
            f"<{nanchors}I", data, offset + COLLECTION_HEAD_LEN
        )
        prev = 0
        for i, a in enumerate(anchors):
            if (i == 0 and a != 0) or a < prev or a >= blob_len:
                raise IndexFormatError(f"{what}: anchor {i} points outside its lists")
            prev = a
        self.data = data
        self.count = count
        self.shift = shift
        self.log2 = log2
        self.chained = bool(flags & COLL_CHAINED)
        self.anchors = anchors
        self.blob = offset + COLLECTION_HEAD_LEN + 4 * nanchors
        self.end = self.blob + blob_len
        self.what = what

    def _start(self, j: int) -> tuple[int, int]:
        """Where list j starts, and the reference its values are stored against."""
        group = j >> self.log2
        pos = self.blob + self.anchors[group]
        ref = 0
        for _ in range(j - (group << self.log2)):
            _, size, first = peek(self.data, pos, self.end)
            pos += size
            if self.chained:
                ref += first
        return pos, ref

    def _values(self, j: int, stored: list[int], ref: int) -> list[int]:
        if stored[-1] + ref > 0xFFFFFFFF or (stored[-1] + ref) << self.shift > 0xFFFFFFFF:
            raise IndexFormatError(f"{self.what}: list {j} exceeds 32 bits")
        return [(v + ref) << self.shift for v in stored]

    def get(self, j: int) -> list[int]:
        if not 0 <= j < self.count:
            raise IndexError(f"{self.what}: no list {j}")
        try:
            pos, ref = self._start(j)
            stored, _ = decode(self.data, pos, self.end)
        except PostingsError as e:
            raise IndexFormatError(f"{self.what}: list {j}: {e}") from None
        return self._values(j, stored, ref)

    def all_lists(self) -> Iterator[list[int]]:
        """Every list in order, checking that the anchors point at list starts."""
        pos = self.blob
        ref = 0
        for j in range(self.count):
            if j & ((1 << self.log2) - 1) == 0:
                if self.blob + self.anchors[j >> self.log2] != pos:
                    raise IndexFormatError(f"{self.what}: anchor {j >> self.log2} is misplaced")
                ref = 0
            try:
                stored, pos = decode(self.data, pos, self.end)
            except PostingsError as e:
                raise IndexFormatError(f"{self.what}: list {j}: {e}") from None
            yield self._values(j, stored, ref)
            if self.chained:
                ref += stored[0]
        if pos != self.end:
            raise IndexFormatError(f"{self.what}: {self.end - pos} bytes after the last list")


class _KeyTable:
    def __init__(self, data: bytes, offset: int, length: int) -> None:
        if length < KEY_TABLE_HEAD_LEN:
            raise IndexFormatError("key table section cut short")
        key_type, width, count, _reserved = struct.unpack_from("<IIII", data, offset)
        known = KEY_WIDTHS.get(key_type)
        if not 1 <= width <= 64 or (known is not None and width != known):
            raise IndexFormatError(f"key table of type {key_type} has keys of {width} bytes")
        keys_len = (count * width + 7) // 8 * 8
        if keys_len > length - KEY_TABLE_HEAD_LEN:
            raise IndexFormatError(f"key table of type {key_type}: {count} keys do not fit")
        start = offset + KEY_TABLE_HEAD_LEN
        self.type = key_type
        self.width = width
        self.keys = tuple(data[start + i * width : start + (i + 1) * width] for i in range(count))
        self.lists = _Collection(
            data,
            start + keys_len,
            length - KEY_TABLE_HEAD_LEN - keys_len,
            f"key table of type {key_type}",
        )
        if self.lists.count != count or self.lists.shift != 0:
            raise IndexFormatError(f"key table of type {key_type}: lists do not match its keys")

    def range(self, lo: bytes, hi: bytes) -> range:
        """Indices of the keys in [lo, hi] (keys are sorted)."""
        return range(bisect.bisect_left(self.keys, lo), bisect.bisect_right(self.keys, hi))


@attrs.frozen
class IndexFile:
    """A parsed, checked index file.  Build it with :meth:`from_bytes`."""

    header: Header
    blocks: tuple[Block, ...]
    sections: tuple[Section, ...]
    _flows: _Collection
    _tables: dict[int, _KeyTable]

    @classmethod
    def from_bytes(cls, data: bytes) -> IndexFile:
        """Parses and checks ``data``; raises :class:`IndexFormatError` if it is not valid.

        Checked here: magic, version, trailer (torn files), whole-file, header
        and section checksums, and the framing of every section.  Lists are
        decoded when asked for (or all at once by :meth:`verify`).
        """
        data = bytes(data)
        n = len(data)
        if n < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
            raise IndexFormatError(
                f"not a steno index file: it starts with {data[:8]!r}, not {MAGIC!r}"
            )
        if n < 12:
            raise IndexFormatError(f"file too short ({n} bytes): torn")
        major, minor = struct.unpack_from("<HH", data, 8)
        if major != MAJOR:
            raise IndexFormatError(
                f"index format version {major}.{minor} is not readable by this reader "
                f"(it reads {MAJOR}.x)"
            )
        if n < HEADER_LEN + TRAILER_LEN:
            raise IndexFormatError(f"file too short ({n} bytes): torn")
        t = n - TRAILER_LEN
        dir_off, nsec, file_crc, file_len = struct.unpack_from("<QIIQ", data, t)
        if data[t + 24 :] != END_MAGIC:
            raise IndexFormatError(
                "no trailer at the end: the file is torn (cut short while written) "
                "or was never finished"
            )
        if file_len != n:
            raise IndexFormatError(
                f"the trailer says the file has {file_len} bytes but it has {n}: torn or spliced"
            )
        if dir_off % 8 or dir_off > t or t - dir_off != nsec * DIR_ENTRY_LEN:
            raise IndexFormatError(
                f"the trailer is corrupted: a directory of {nsec} entries at {dir_off} "
                f"does not end where the trailer starts ({t})"
            )
        computed = crc32c(data[:t])
        if computed != file_crc:
            raise IndexFormatError(
                f"file checksum mismatch (stored {file_crc:#010x}, computed {computed:#010x}): "
                "the file is corrupted"
            )
        header = _parse_header(data)
        sections = _parse_directory(data, header.header_len, dir_off, nsec)
        blocks: tuple[Block, ...] | None = None
        flows: _Collection | None = None
        tables: dict[int, _KeyTable] = {}
        for i, s in enumerate(sections):
            name = _SECTION_NAMES.get(s.type, f"type {s.type}")
            if crc32c(data[s.offset : s.offset + s.length]) != s.crc:
                raise IndexFormatError(f"section {i} ({name}) checksum mismatch: corrupted")
            if s.type == SEC_BLOCKS:
                if blocks is not None:
                    raise IndexFormatError("two block tables")
                blocks = _parse_blocks(data, s, header)
            elif s.type == SEC_FLOWS:
                if flows is not None:
                    raise IndexFormatError("two flow sections")
                flows = _Collection(data, s.offset, s.length, "flows")
                if flows.count != header.flow_count:
                    raise IndexFormatError(
                        f"flows section has {flows.count} flows, the header says "
                        f"{header.flow_count}"
                    )
            elif s.type == SEC_KEYS:
                table = _KeyTable(data, s.offset, s.length)
                if table.type in tables:
                    raise IndexFormatError(f"two key tables of type {table.type}")
                tables[table.type] = table
            elif s.flags & SEC_REQUIRED:
                raise IndexFormatError(
                    f"section type {s.type} is required but unknown to this reader"
                )
        if blocks is None:
            raise IndexFormatError("no block table section")
        if flows is None:
            raise IndexFormatError("no flows section")
        return cls(header, blocks, sections, flows, tables)

    # -- look-ups ---------------------------------------------------------------

    def key_types(self) -> tuple[int, ...]:
        return tuple(sorted(self._tables))

    def keys(self, key_type: int) -> tuple[bytes, ...]:
        """Every key of a type in the file, sorted (network byte order, fixed width)."""
        table = self._tables.get(key_type)
        return table.keys if table else ()

    def flows_for_key_range(self, key_type: int, lo: KeyValue, hi: KeyValue) -> tuple[int, ...]:
        """Sorted ids of the flows having a key of ``key_type`` in [lo, hi].

        Keys are the file's bytes (fixed width, network order), or for the
        known types a number or an address, as :func:`encode_key` takes them.
        """
        table = self._tables.get(key_type)
        if table is None:
            return ()
        lo, hi = _key_bytes(key_type, lo), _key_bytes(key_type, hi)
        if len(lo) != table.width or len(hi) != table.width:
            raise ValueError(f"keys of type {key_type} are {table.width} bytes")
        flows: set[int] = set()
        for j in table.range(lo, hi):
            ids = table.lists.get(j)
            if ids[-1] >= self.header.flow_count:
                raise IndexFormatError(f"key table of type {key_type}: flow id out of range")
            flows.update(ids)
        return tuple(sorted(flows))

    def flows_for_key(self, key_type: int, key: KeyValue) -> tuple[int, ...]:
        return self.flows_for_key_range(key_type, key, key)

    def positions_for_flow(self, flow: int) -> tuple[int, ...]:
        return tuple(self._flows.get(flow))

    def positions_for_flows(self, flows: tuple[int, ...]) -> tuple[int, ...]:
        out: set[int] = set()
        for f in flows:
            out.update(self._flows.get(f))
        return tuple(sorted(out))

    def positions_for_key(self, key_type: int, key: KeyValue) -> tuple[int, ...]:
        return self.positions_for_flows(self.flows_for_key(key_type, key))

    def positions_for_key_range(self, key_type: int, lo: KeyValue, hi: KeyValue) -> tuple[int, ...]:
        return self.positions_for_flows(self.flows_for_key_range(key_type, lo, hi))

    def all_flows(self) -> tuple[tuple[int, ...], ...]:
        """Every flow's positions, by flow id."""
        return tuple(tuple(lst) for lst in self._flows.all_lists())

    def key_map(self) -> dict[tuple[int, bytes], tuple[int, ...]]:
        """(key type, key) -> positions of its packets, for every key in the file."""
        flows = self.all_flows()
        out: dict[tuple[int, bytes], tuple[int, ...]] = {}
        for key_type, table in self._tables.items():
            for key, ids in zip(table.keys, table.lists.all_lists(), strict=True):
                out[(key_type, key)] = tuple(sorted(p for f in ids for p in flows[f]))
        return out

    # -- deep check -------------------------------------------------------------

    def verify(self) -> None:
        """Decodes every list and checks the file against itself.

        Beyond :meth:`from_bytes`: each flow's positions are inside an indexed
        block, the flows partition the packets (each packet in exactly one
        flow, per-block counts as in the block table), flows are numbered in
        order of their first packet, keys are sorted and distinct, and every
        key's flow list names existing flows.
        """
        h = self.header
        bs = h.block_size
        per_block = {b.index: 0 for b in self.blocks}
        seen: set[int] = set()
        first_positions = []
        for f, positions in enumerate(self._flows.all_lists()):
            first_positions.append(positions[0])
            for p in positions:
                idx = p // bs
                if idx not in per_block or p % bs < 48:
                    raise IndexFormatError(f"flow {f}: position {p} is not in an indexed block")
                if p in seen:
                    raise IndexFormatError(f"flow {f}: position {p} is in two flows")
                seen.add(p)
                per_block[idx] += 1
        if len(seen) != h.packet_count:
            raise IndexFormatError(
                f"flows hold {len(seen)} packets, the header says {h.packet_count}"
            )
        for b in self.blocks:
            if per_block[b.index] != b.packets:
                raise IndexFormatError(
                    f"block {b.index}: flows hold {per_block[b.index]} of its packets, "
                    f"the block table says {b.packets}"
                )
        if first_positions != sorted(first_positions):
            raise IndexFormatError("flows are not numbered in order of their first packet")
        for key_type, table in self._tables.items():
            if any(a >= b for a, b in itertools.pairwise(table.keys)):
                raise IndexFormatError(f"key table of type {key_type} is not sorted")
            for j, ids in enumerate(table.lists.all_lists()):
                if ids[-1] >= h.flow_count:
                    raise IndexFormatError(
                        f"key table of type {key_type}: key {j} names flow {ids[-1]}, "
                        f"there are {h.flow_count}"
                    )


def _parse_header(data: bytes) -> Header:
    (
        major,
        minor,
        header_len,
        block_size,
        block_count,
        packet_file_size,
        packet_count,
        first_ns,
        last_ns,
        flow_count,
        flags,
    ) = struct.unpack_from("<HHIIIQQQQII", data, 8)
    if header_len < HEADER_LEN or header_len % 8 or header_len > len(data) - TRAILER_LEN:
        raise IndexFormatError(f"header length {header_len} is impossible")
    (crc,) = struct.unpack_from("<I", data, header_len - 4)
    if crc32c(data[: header_len - 4]) != crc:
        raise IndexFormatError("header checksum mismatch: the header is corrupted")
    if block_size < 48:
        raise IndexFormatError(f"block size {block_size} is impossible")
    if first_ns > last_ns:
        raise IndexFormatError("header time range ends before it starts")
    return Header(
        major=major,
        minor=minor,
        header_len=header_len,
        block_size=block_size,
        block_count=block_count,
        packet_file_size=packet_file_size,
        packet_count=packet_count,
        first_ns=first_ns,
        last_ns=last_ns,
        flow_count=flow_count,
        flags=flags,
    )


def _parse_directory(data: bytes, header_len: int, dir_off: int, nsec: int) -> tuple[Section, ...]:
    dir_end = len(data) - TRAILER_LEN
    if (
        dir_off < header_len
        or dir_off % 8
        or dir_off > dir_end
        or dir_end - dir_off != nsec * DIR_ENTRY_LEN
    ):
        raise IndexFormatError("the section directory overlaps the header")
    sections = []
    prev_end = header_len
    for i in range(nsec):
        stype, sflags, crc, off, length = struct.unpack_from(
            "<HHIQQ", data, dir_off + i * DIR_ENTRY_LEN
        )
        if off % 8 or off < prev_end or off > dir_off or length > dir_off - off:
            raise IndexFormatError(f"section {i} lies outside its place")
        prev_end = off + length
        sections.append(Section(type=stype, flags=sflags, crc=crc, offset=off, length=length))
    return tuple(sections)


def _parse_blocks(data: bytes, s: Section, h: Header) -> tuple[Block, ...]:
    if s.length != h.block_count * BLOCK_ENTRY_LEN:
        raise IndexFormatError(
            f"block table is {s.length} bytes, the header's {h.block_count} blocks need "
            f"{h.block_count * BLOCK_ENTRY_LEN}"
        )
    blocks: list[Block] = []
    for i in range(h.block_count):
        index, packets, first_ns, last_ns = struct.unpack_from(
            "<IIQQ", data, s.offset + i * BLOCK_ENTRY_LEN
        )
        if blocks and index <= blocks[-1].index:
            raise IndexFormatError(f"block table entry {i} is out of order")
        if (index + 1) * h.block_size > h.packet_file_size:
            raise IndexFormatError(f"block table entry {i} lies beyond the packet file's end")
        if first_ns > last_ns:
            raise IndexFormatError(f"block table entry {i} ends before it starts")
        blocks.append(Block(index=index, packets=packets, first_ns=first_ns, last_ns=last_ns))
    if sum(b.packets for b in blocks) != h.packet_count:
        raise IndexFormatError(
            f"block table counts {sum(b.packets for b in blocks)} packets, "
            f"the header says {h.packet_count}"
        )
    return tuple(blocks)
