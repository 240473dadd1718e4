"""A small LevelDB table writer for the tests, written from the format's
description (reference §3.2), not from the reader: it shares no code with
``steno/store/upstream_index.py`` (its own CRC-32C, varints and block layout).

It makes the choices LevelDB's ``TableBuilder`` makes with stenotype's options
(no compression, 4096-byte blocks, a restart point every 16 entries, the index
block with a restart at every entry, shortest separators between blocks and the
short successor after the last block), so for the same keys it should give the
same bytes as upstream; the tests check that against real stenotype output and
against the LevelDB library itself.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

BLOCK_SIZE = 4096
RESTART_INTERVAL = 16
MAGIC = bytes.fromhex("57fb808b247547db")


def _crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 * (crc & 1))
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = _crc32c_bitwise(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class _BlockBuilder:
    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.buf = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last = b""

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.counter < self.interval:
            limit = min(len(key), len(self.last))
            while shared < limit and key[shared] == self.last[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buf))
            self.counter = 0
        self.buf += varint(shared) + varint(len(key) - shared) + varint(len(value))
        self.buf += key[shared:] + value
        self.last = key
        self.counter += 1

    def estimate(self) -> int:
        return len(self.buf) + 4 * len(self.restarts) + 4

    def empty(self) -> bool:
        return not self.buf

    def finish(self) -> bytes:
        tail = b"".join(struct.pack("<I", r) for r in self.restarts)
        return bytes(self.buf) + tail + struct.pack("<I", len(self.restarts))


def shortest_separator(start: bytes, limit: bytes) -> bytes:
    """A short key k with start <= k < limit (LevelDB's bytewise comparator)."""
    n = min(len(start), len(limit))
    i = 0
    while i < n and start[i] == limit[i]:
        i += 1
    if i < n:
        b = start[i]
        if b < 0xFF and b + 1 < limit[i]:
            return start[:i] + bytes([b + 1])
    return start


def short_successor(key: bytes) -> bytes:
    for i, b in enumerate(key):
        if b != 0xFF:
            return key[:i] + bytes([b + 1])
    return key


def build_table(
    items: Iterable[tuple[bytes, bytes]],
    *,
    block_size: int = BLOCK_SIZE,
    interval: int = RESTART_INTERVAL,
) -> bytes:
    """A LevelDB table of items (keys strictly increasing)."""
    out = bytearray()
    index = _BlockBuilder(1)
    data = _BlockBuilder(interval)
    pending: tuple[bytes, int, int] | None = None  # last key, offset, size of a flushed block

    def write_block(contents: bytes) -> tuple[int, int]:
        off = len(out)
        out.extend(contents)
        out.extend(b"\x00" + struct.pack("<I", masked_crc(contents + b"\x00")))
        return off, len(contents)

    def handle(off: int, size: int) -> bytes:
        return varint(off) + varint(size)

    last = b""
    for key, value in items:
        if pending is not None:
            index.add(shortest_separator(pending[0], key), handle(pending[1], pending[2]))
            pending = None
        data.add(key, value)
        last = key
        if data.estimate() >= block_size:
            off, size = write_block(data.finish())
            pending = (last, off, size)
            data = _BlockBuilder(interval)
    if not data.empty():
        off, size = write_block(data.finish())
        pending = (last, off, size)
    if pending is not None:
        index.add(short_successor(pending[0]), handle(pending[1], pending[2]))
    meta_off, meta_size = write_block(_BlockBuilder(interval).finish())
    index_off, index_size = write_block(index.finish())
    footer = handle(meta_off, meta_size) + handle(index_off, index_size)
    out.extend(footer + bytes(40 - len(footer)) + MAGIC)
    return bytes(out)


def positions_value(positions: Sequence[int]) -> bytes:
    return b"".join(p.to_bytes(4, "big") for p in positions)


VERSION_VALUE = bytes.fromhex("0000000200000000")
