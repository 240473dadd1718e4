"""CRC-32C (Castagnoli) in pure Python: the checksum of the index file format.

The C core computes the same function with the CPU's crc32 instruction
(``steno/native/c/crc32c.c``); this table version exists so that the
pure-Python index reader needs nothing but the standard library.  It runs at
roughly ten megabytes a second, plenty for tests and for inspecting a file.
"""

from __future__ import annotations

from typing import Final

__all__ = ["crc32c"]

_POLY: Final = 0x82F63B78  # CRC-32C, bit-reflected


def _make_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE: Final = _make_table()


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32C of ``data``, continuing from ``crc`` (a previous result, or 0)."""
    table = _TABLE
    c = crc ^ 0xFFFFFFFF
    for b in bytes(data):
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
