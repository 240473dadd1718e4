"""Reading upstream Stenographer's index files, so that its stores stay queryable.

Upstream's ``stenotype`` writes, next to every packet file ``PKT<N>/<micros>``,
an index ``IDX<N>/<micros>``: one LevelDB table ("SSTable") built by the C++
``leveldb::TableBuilder`` without compression (``shared/reference/
stenographer.md`` §3.2; ``docs/upstream-compat.md``).  This module reads those
bytes and nothing else: no I/O beyond an optional mmap, no trio.

Theory of operation
-------------------
A table is, front to back: data blocks, a (here empty) metaindex block, an
index block, and a 48-byte footer whose last 8 bytes are LevelDB's magic.
Every block is followed by a 5-byte trailer: a compression byte (0 = none) and
the masked CRC-32C of block + compression byte.  A block is a run of
prefix-compressed entries (``varint shared, varint unshared, varint value
length, key suffix, value``) followed by the offsets of its *restart points*
(entries stored with no shared prefix) and their count.  The index block has
one entry per data block: a separator key >= every key of that block and <
every key of the next, and the block's handle (``varint offset, varint size``).

A look-up never decodes more than it needs: a binary search over the index
block's restart points finds the data block, a binary search over that block's
restart points finds the run of (at most 16) entries to scan.  Nothing is
decoded at open except the footer, the metaindex, the index block's frame and
the version record.  A block's checksum is verified the first time the block is
read and remembered, so a query that touches three blocks of a 100 MB index
pays for three blocks (the first data block's version record is read at open
without verifying that block, which holds the largest values; see
``_read_version``).  ``check()`` reads and verifies everything.

Keys are ``<type byte><value>`` (big-endian values); the value of a key is its
packets' positions, concatenated big-endian u32s, strictly increasing:

===== ======= =============
type  meaning value bytes
===== ======= =============
0     version (only key ``00``; value: major u32 = 2, minor u32)
1     proto   1
2     port    2
3     vlan    2
4     ipv4    4
5     mpls    4 (20-bit label)
6     ipv6    16
===== ======= =============

Telling the two index formats apart
-----------------------------------
A LevelDB table is recognised by its *end*: the footer's last 8 bytes are
``0xdb4775248b80fb57`` little-endian (``57 fb 80 8b 24 75 47 db``); its first
bytes are an ordinary block entry.  steno's own index files (``index`` branch,
``steno/store/index_format.py``) begin with ``STENOIDX`` and end with
``STENOEND``.  ``is_upstream_index`` looks only at the end; a steno file never
ends in LevelDB's magic.

Error handling
--------------
Anything wrong with the bytes raises ``UpstreamIndexError`` (a ``ValueError``)
whose message says what and where: a file too short or without the magic at its
end (torn: upstream writes ``.<name>`` and renames it only once complete, so a
visible torn file means a crash or foreign damage), a checksum mismatch, a
compressed block, a block or entry that runs outside its bounds, keys out of
order, a missing or unknown version.  No input makes it raise anything else;
wrong *arguments* (an unknown key type, a value of the wrong size) raise
``ValueError``/``TypeError`` as usual.  A structural problem in a block that a
look-up does not touch is found only by ``check()``.
"""

from __future__ import annotations

import enum
import mmap
import operator
import os
import struct
import sys
from array import array
from collections.abc import Iterator
from itertools import islice
from typing import Final

import attrs

__all__ = [
    "MAGIC",
    "VERSION_MAJOR",
    "IndexSummary",
    "UpstreamIndex",
    "UpstreamIndexError",
    "UpstreamKeyType",
    "encode_value",
    "is_upstream_index",
]

MAGIC: Final = 0xDB4775248B80FB57
MAGIC_BYTES: Final = MAGIC.to_bytes(8, "little")
FOOTER_SIZE: Final = 48
TRAILER_SIZE: Final = 5
VERSION_MAJOR: Final = 2
VERSION_KEY: Final = b"\x00"
STENO_MAGIC: Final = b"STENOIDX"  # steno's own format; only named in error messages

_COMPRESSION_NAMES: Final = {1: "snappy", 2: "zstd"}
_CRC_MASK_DELTA: Final = 0xA282EAD8


class UpstreamIndexError(ValueError):
    """The bytes are not a readable upstream index: torn, corrupt or foreign."""


class UpstreamKeyType(enum.IntEnum):
    """Upstream's key types (steno keeps the numbering: ``docs/index-keys.md``)."""

    PROTO = 1
    PORT = 2
    VLAN = 3
    IPV4 = 4
    MPLS = 5
    IPV6 = 6

    @property
    def value_size(self) -> int:
        return _VALUE_SIZES[self]


_VALUE_SIZES: Final = {1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 16}


def encode_value(key_type: int, value: int) -> bytes:
    """The value bytes of a key: ``encode_value(UpstreamKeyType.PORT, 80) == b"\\x00P"``."""
    size = _value_size(key_type)
    try:
        return value.to_bytes(size, "big")
    except OverflowError:
        raise ValueError(f"{value} does not fit a type-{key_type} key ({size} bytes)") from None


def _value_size(key_type: int) -> int:
    size = _VALUE_SIZES.get(key_type)
    if size is None:
        raise ValueError(f"unknown upstream key type {key_type!r} (1-6)")
    return size


def is_upstream_index(data: bytes | bytearray | memoryview | mmap.mmap) -> bool:
    """Whether data ends like a LevelDB table (upstream's index format).

    Only the magic is looked at: a torn upstream file gives False, as does a
    steno index (``STENOIDX`` ... ``STENOEND``)."""
    n = len(data)
    return n >= FOOTER_SIZE and bytes(data[n - 8 : n]) == MAGIC_BYTES


# --- CRC-32C ------------------------------------------------------------------------------
# Pure Python, slicing by 8 (about 10 MB/s here, half again the byte-wise loop).
# Blocks are verified once each, on first use, so look-ups pay for what they read.


def _crc_tables() -> tuple[tuple[int, ...], ...]:
    t0 = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t0.append(c)
    tables = [t0]
    for _ in range(7):
        prev = tables[-1]
        tables.append([(prev[i] >> 8) ^ t0[prev[i] & 0xFF] for i in range(256)])
    return tuple(tuple(t) for t in tables)


_T: Final = _crc_tables()
_WORDS: Final = struct.Struct("<II")


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC-32C (Castagnoli) of data."""
    t0, t1, t2, t3, t4, t5, t6, t7 = _T
    crc = 0xFFFFFFFF
    mv = memoryview(data).cast("B")
    whole = len(mv) - len(mv) % 8
    for lo, hi in _WORDS.iter_unpack(mv[:whole]):
        lo ^= crc
        crc = (
            t7[lo & 0xFF]
            ^ t6[(lo >> 8) & 0xFF]
            ^ t5[(lo >> 16) & 0xFF]
            ^ t4[lo >> 24]
            ^ t3[hi & 0xFF]
            ^ t2[(hi >> 8) & 0xFF]
            ^ t1[(hi >> 16) & 0xFF]
            ^ t0[hi >> 24]
        )
    for b in mv[whole:]:
        crc = t0[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """LevelDB stores CRCs masked (rotated right by 15, plus a constant)."""
    rot = (masked - _CRC_MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


# --- the reader ---------------------------------------------------------------------------

_Buffer = bytes | bytearray | mmap.mmap
_U32LE: Final = struct.Struct("<I")
_U32BE: Final = struct.Struct(">II")
_NEEDS_SWAP: Final = sys.byteorder == "little"
if array("I").itemsize != 4:  # pragma: no cover - every platform steno runs on
    raise ImportError("array('I') is not 32 bits here")


class _Corrupt(Exception):
    """Internal: a structural error, turned into UpstreamIndexError with context."""


@attrs.frozen
class _Block:
    """Where a block's entries and restart array lie (absolute file offsets)."""

    offset: int  # first entry
    entries_end: int  # the restart array starts here
    restarts: int  # number of restart points


@attrs.frozen
class IndexSummary:
    """What ``check()`` walked: every block, entry and position."""

    data_blocks: int
    keys: dict[int, int]  # key type -> number of keys (type 0: the version record)
    positions: int  # position entries over all keys


def _check_key(key: bytes, *, first: bool) -> int:
    """The type of a key, after checking its size; the version key only first."""
    if not key:
        raise _Corrupt("an empty key")
    t = key[0]
    if t == 0:
        if key != VERSION_KEY or not first:
            raise _Corrupt(f"type-0 key {key.hex()} is not the first, version key")
        return 0
    size = _VALUE_SIZES.get(t)
    if size is None:
        raise _Corrupt(f"unknown key type {t} (key {key.hex()})")
    if len(key) != 1 + size:
        raise _Corrupt(f"key {key.hex()} has {len(key) - 1} value bytes, type {t} has {size}")
    return t


def _positions(raw: bytes) -> array[int]:
    out = array("I")
    out.frombytes(raw)
    if _NEEDS_SWAP:
        out.byteswap()
    return out


class UpstreamIndex:
    """One upstream index file, read in place.

    Build with ``from_bytes`` (bytes, bytearray, memoryview or mmap) or ``open``
    (a path, mapped read-only; a context manager, or call ``close``).

    ``verify_checksums`` (default on) checks each block's CRC-32C the first
    time the block is read; turning it off saves ~0.4 ms per 4 KiB block the
    first time it is touched, at the price of trusting the bytes.
    """

    def __init__(
        self,
        data: _Buffer,
        *,
        verify_checksums: bool = True,
        name: str = "<bytes>",
        _mapped: mmap.mmap | None = None,
    ) -> None:
        self._buf = data
        self._size = len(data)
        self._verify = verify_checksums
        self._verified: set[int] = set()
        self._mapped = _mapped
        self.name = name
        try:
            self._index, self._meta = self._read_footer()
            self.version = self._read_version()
        except _Corrupt as e:
            raise UpstreamIndexError(f"{self.name}: {e}") from None

    # -- construction --

    @classmethod
    def from_bytes(
        cls,
        data: bytes | bytearray | memoryview | mmap.mmap,
        *,
        verify_checksums: bool = True,
        name: str = "<bytes>",
    ) -> UpstreamIndex:
        """Reads an index held in memory (a memoryview is copied once)."""
        if isinstance(data, memoryview):
            data = data.tobytes()
        if not isinstance(data, bytes | bytearray | mmap.mmap):
            raise TypeError(f"expected bytes, got {type(data).__name__}")
        return cls(data, verify_checksums=verify_checksums, name=name)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, verify_checksums: bool = True) -> UpstreamIndex:
        """Maps the file at path read-only; close() (or ``with``) unmaps it."""
        name = os.fspath(path)
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise UpstreamIndexError(f"{name}: empty file (0 bytes): torn, or not an index")
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            return cls(mapped, verify_checksums=verify_checksums, name=name, _mapped=mapped)
        except BaseException:
            mapped.close()
            raise

    def close(self) -> None:
        if self._mapped is not None:
            self._mapped.close()
            self._mapped = None
            self._buf = b""

    def __enter__(self) -> UpstreamIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def size(self) -> int:
        return self._size

    # -- look-ups --

    def positions(self, key_type: int, value: bytes) -> array[int]:
        """Positions (``array('I')``, increasing) of the packets under one key;
        empty if the key is absent.  ``positions(UpstreamKeyType.PORT, b"\\0\\x50")``"""
        key = self._key(key_type, value)
        for k, voff, vlen in self._scan(key):
            if k == key:
                return self._value_positions(k, voff, vlen)
            break
        return array("I")

    def positions_in_range(self, key_type: int, lo: bytes, hi: bytes) -> array[int]:
        """Union of the positions of every key of key_type whose value is in
        [lo, hi] (inclusive, big-endian bytes compare as numbers): ``host``,
        ``net`` and ``mask`` ranges.  Increasing, no duplicates.

        The union is done in Python (a set, then a sort): fine for a host or a
        /24, slow for a /16 over a big file (about 1 µs per position here); a
        query engine with its own set operations should take
        ``lists_in_range`` and merge the sorted lists itself."""
        lists = self.lists_in_range(key_type, lo, hi)
        if not lists:
            return array("I")
        if len(lists) == 1:
            return lists[0]
        merged: set[int] = set()
        for positions in lists:
            merged.update(positions)
        return array("I", sorted(merged))

    def lists_in_range(self, key_type: int, lo: bytes, hi: bytes) -> list[array[int]]:
        """The positions of each key of key_type with a value in [lo, hi], one
        sorted array per key, in key order (a packet may be in two of them)."""
        first = self._key(key_type, lo)
        last = self._key(key_type, hi)
        lists = []
        if first <= last:
            for k, voff, vlen in self._scan(first):
                if k > last:
                    break
                lists.append(self._value_positions(k, voff, vlen))
        return lists

    def keys(self, key_type: int) -> Iterator[bytes]:
        """The values (without the type byte) of every key of key_type, in order."""
        for k, _, _ in self._type_entries(key_type):
            yield k[1:]

    def items(self, key_type: int) -> Iterator[tuple[bytes, array[int]]]:
        """(value, positions) of every key of key_type, in order."""
        for k, voff, vlen in self._type_entries(key_type):
            yield k[1:], self._value_positions(k, voff, vlen)

    def all_items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, raw value) of the table in order, the version record included."""
        buf = self._buf
        for k, voff, vlen in self._scan(b""):
            yield k, bytes(buf[voff : voff + vlen])

    def check(self) -> IndexSummary:
        """Reads and verifies the whole table: every checksum, every entry,
        strict key order (also against the index block's separators), key sizes
        per type, and strictly increasing positions.  Raises
        UpstreamIndexError at the first problem; returns what it walked."""
        try:
            return self._check()
        except _Corrupt as e:
            raise UpstreamIndexError(f"{self.name}: {e}") from None

    def _check(self) -> IndexSummary:
        counts: dict[int, int] = {}
        total = 0
        blocks = 0
        prev_sep = b""
        prev_key: bytes | None = None
        for sep, off, size in self._entries_from(self._index, None, is_index=True):
            if blocks and sep <= prev_sep:
                raise _Corrupt(f"index block separators out of order ({sep.hex()})")
            n = 0
            for k, voff, vlen in self._entries_from(self._open_block(off, size), None):
                n += 1
                if prev_key is not None and k <= prev_key:
                    raise _Corrupt(
                        f"keys out of order: {k.hex()} after {prev_key.hex()}"
                        f" (data block at offset {off})"
                    )
                if k > sep:
                    raise _Corrupt(
                        f"key {k.hex()} is beyond its block's separator {sep.hex()}"
                        f" (data block at offset {off})"
                    )
                prev_key = k
                t = _check_key(k, first=not counts)
                if t:
                    positions = self._value_positions(k, voff, vlen)
                    if not positions:
                        raise _Corrupt(f"key {k.hex()} has no positions")
                    if not all(map(operator.lt, positions, islice(positions, 1, None))):
                        raise _Corrupt(f"positions of key {k.hex()} are not increasing")
                    total += len(positions)
                counts[t] = counts.get(t, 0) + 1
            if n == 0:
                raise _Corrupt(f"empty data block at offset {off}")
            prev_sep = sep
            blocks += 1
        if counts.get(0) != 1:
            raise _Corrupt("no version record")
        return IndexSummary(data_blocks=blocks, keys=counts, positions=total)

    # -- internals: keys and values --

    @staticmethod
    def _key(key_type: int, value: bytes) -> bytes:
        size = _value_size(key_type)
        if not isinstance(value, bytes | bytearray):
            raise TypeError(f"value must be bytes, got {type(value).__name__}")
        if len(value) != size:
            raise ValueError(f"a type-{key_type} value is {size} bytes, got {len(value)}")
        return bytes((key_type,)) + bytes(value)

    def _value_positions(self, key: bytes, voff: int, vlen: int) -> array[int]:
        if vlen % 4:
            raise UpstreamIndexError(
                f"{self.name}: key {key.hex()}: value of {vlen} bytes is not a list of u32"
            )
        return _positions(bytes(self._buf[voff : voff + vlen]))

    def _type_entries(self, key_type: int) -> Iterator[tuple[bytes, int, int]]:
        _value_size(key_type)
        prefix = bytes((key_type,))
        for entry in self._scan(prefix):
            if entry[0][:1] != prefix:
                return
            yield entry

    def _scan(self, start: bytes) -> Iterator[tuple[bytes, int, int]]:
        """(key, value offset, value length) of every entry with key >= start, in
        order, checking order as it goes.  Errors become UpstreamIndexError."""
        try:
            yield from self._scan_raw(start)
        except _Corrupt as e:
            raise UpstreamIndexError(f"{self.name}: {e}") from None

    def _scan_raw(self, start: bytes) -> Iterator[tuple[bytes, int, int]]:
        prev: bytes | None = None
        target: bytes | None = start
        for _, off, size in self._entries_from(self._index, start, is_index=True):
            for entry in self._entries_from(self._open_block(off, size), target):
                if prev is not None and entry[0] <= prev:
                    raise _Corrupt(
                        f"keys out of order: {entry[0].hex()} after {prev.hex()}"
                        f" (data block at offset {off})"
                    )
                prev = entry[0]
                yield entry
            target = None  # later blocks: from their first entry

    def _read_version(self) -> tuple[int, int]:
        """The version record, the first entry of the first data block.

        That block is parsed here without its checksum: it also holds the
        largest values (``proto 6`` lists most packets), so verifying it would
        make opening cost as much as reading most of the file.  A look-up or
        ``check()`` that uses the block verifies it first; a damaged version
        record is refused below either way."""
        for _, off, size in self._entries_from(self._index, None, is_index=True):
            block = self._open_block(off, size, verify=False)
            for k, voff, vlen in self._entries_from(block, None):
                if k != VERSION_KEY:
                    break
                if vlen != 8:
                    raise _Corrupt(f"version record of {vlen} bytes, not 8: not an upstream index")
                major, minor = _U32BE.unpack_from(self._buf, voff)
                if major != VERSION_MAJOR:
                    raise _Corrupt(
                        f"index format version {major}.{minor}; this reader knows"
                        f" {VERSION_MAJOR}.x (upstream since Feb 2015)"
                    )
                return major, minor
            break
        raise _Corrupt("no version record (key 00): a LevelDB table, but not an upstream index")

    # -- internals: the table --

    def _read_footer(self) -> tuple[_Block, _Block]:
        n = self._size
        buf = self._buf
        if n < FOOTER_SIZE:
            raise _Corrupt(
                f"{n} bytes, too short for a LevelDB table (48-byte footer): torn or foreign"
            )
        if buf[n - 8 : n] != MAGIC_BYTES:
            if buf[:8] == STENO_MAGIC:
                raise _Corrupt("a steno index file (STENOIDX), not an upstream one")
            raise _Corrupt(
                "no LevelDB table magic at the end (57 fb 80 8b 24 75 47 db):"
                " a torn (partly written) file, or not an upstream index"
            )
        base = n - FOOTER_SIZE
        p = base
        meta_off, p = self._varint(p, base + 40)
        meta_size, p = self._varint(p, base + 40)
        index_off, p = self._varint(p, base + 40)
        index_size, p = self._varint(p, base + 40)
        if any(buf[p : base + 40]):
            raise _Corrupt("footer padding is not zero: corrupt footer")
        meta = self._open_block(meta_off, meta_size, what="metaindex block")
        index = self._open_block(index_off, index_size, what="index block")
        # The metaindex names filter blocks; upstream writes none, and a
        # filter would only speed up misses.  Walk it, to check it.
        for _ in self._entries_from(meta, None):
            pass
        return index, meta

    def _varint(self, p: int, end: int) -> tuple[int, int]:
        buf = self._buf
        result = 0
        shift = 0
        while True:
            if p >= end:
                raise _Corrupt(f"a varint runs past its bounds (at offset {p})")
            b = buf[p]
            p += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                if b == 0 and shift:
                    # LevelDB never pads a varint; a padded one is a flipped bit.
                    raise _Corrupt(f"a non-minimal varint (at offset {p - 1})")
                return result, p
            shift += 7
            if shift > 63:
                raise _Corrupt(f"a varint longer than 10 bytes (at offset {p})")

    def _open_block(
        self, off: int, size: int, what: str = "data block", *, verify: bool = True
    ) -> _Block:
        """Bounds, trailer and (once) checksum of the block at off."""
        limit = self._size - FOOTER_SIZE
        if off + size + TRAILER_SIZE > limit:
            raise _Corrupt(
                f"{what} at offset {off} ({size} bytes + trailer) runs past the"
                f" table's end ({limit}): corrupt handle"
            )
        buf = self._buf
        kind = buf[off + size]
        if kind != 0:
            name = _COMPRESSION_NAMES.get(kind, "unknown")
            raise _Corrupt(
                f"{what} at offset {off} is compressed (type {kind}, {name}):"
                " upstream stenotype writes uncompressed tables and this reader"
                " does not decompress"
            )
        if verify and self._verify and off not in self._verified:
            (stored,) = _U32LE.unpack_from(buf, off + size + 1)
            actual = crc32c(memoryview(buf)[off : off + size + 1])
            if unmask_crc(stored) != actual:
                raise _Corrupt(
                    f"{what} at offset {off} ({size} bytes): checksum mismatch"
                    f" (stored {unmask_crc(stored):#010x}, computed {actual:#010x})"
                )
            self._verified.add(off)
        if size < 4:
            raise _Corrupt(f"{what} at offset {off} is {size} bytes, too short for a block")
        (restarts,) = _U32LE.unpack_from(buf, off + size - 4)
        entries_end = off + size - 4 - 4 * restarts
        if restarts == 0 or entries_end < off:
            raise _Corrupt(f"{what} at offset {off}: bad restart count {restarts}")
        return _Block(off, entries_end, restarts)

    def _restart(self, block: _Block, i: int) -> int:
        rel: int = _U32LE.unpack_from(self._buf, block.entries_end + 4 * i)[0]
        p = block.offset + rel
        if p >= block.entries_end and not (p == block.offset == block.entries_end):
            raise _Corrupt(f"restart point {i} of the block at {block.offset} is out of bounds")
        return p

    def _entry(self, p: int, end: int, prev: bytes, block_off: int) -> tuple[bytes, int, int, int]:
        """The entry at p: (key, value offset, value length, next entry)."""
        buf = self._buf
        if p + 3 <= end and buf[p] < 0x80 and buf[p + 1] < 0x80 and buf[p + 2] < 0x80:
            shared, unshared, vlen = buf[p], buf[p + 1], buf[p + 2]
            p += 3
        else:
            shared, p = self._varint(p, end)
            unshared, p = self._varint(p, end)
            vlen, p = self._varint(p, end)
        if shared > len(prev):
            raise _Corrupt(
                f"entry at offset {p} shares {shared} bytes of a {len(prev)}-byte key"
                f" (block at {block_off})"
            )
        vstart = p + unshared
        nxt = vstart + vlen
        if nxt > end:
            raise _Corrupt(f"entry at offset {p} runs past its block (block at {block_off})")
        key = prev[:shared] + bytes(buf[p:vstart]) if shared else bytes(buf[p:vstart])
        return key, vstart, vlen, nxt

    def _entries_from(
        self, block: _Block, target: bytes | None, *, is_index: bool = False
    ) -> Iterator[tuple[bytes, int, int]]:
        """Entries of block from the first with key >= target (all if None).

        For the index block (is_index) the value is decoded as a block handle:
        (separator, block offset, block size)."""
        end = block.entries_end
        p = block.offset
        if target is not None and block.restarts > 1:
            # Last restart point whose key < target; the scan starts there.
            lo, hi = 0, block.restarts - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                rp = self._restart(block, mid)
                key, _, _, _ = self._entry(rp, end, b"", block.offset)
                if key < target:
                    lo = mid
                else:
                    hi = mid - 1
            p = self._restart(block, lo)
        key = b""
        while p < end:
            key, voff, vlen, p = self._entry(p, end, key, block.offset)
            if target is not None and key < target:
                continue
            if is_index:
                off, q = self._varint(voff, voff + vlen)
                size, q = self._varint(q, voff + vlen)
                if q != voff + vlen:
                    raise _Corrupt(f"index entry {key.hex()}: block handle with trailing bytes")
                yield key, off, size
            else:
                yield key, voff, vlen
