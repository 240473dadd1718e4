"""Taking an index file apart and putting it back with fresh checksums, for tests.

Corruption tests need two kinds of bad file: ones a checksum catches (flip a
byte and leave it) and ones it cannot (a writer bug or a crafted file: change
the bytes, then recompute every CRC).  This module does the second kind, and
builds files of a "newer minor version" with extra sections.
"""

from __future__ import annotations

import struct

import attrs

from steno.store.crc32c import crc32c

HEADER_CRC_AT = 68
TRAILER_LEN = 32


@attrs.define
class Piece:
    type: int
    flags: int
    payload: bytes


def split(data: bytes) -> tuple[bytes, list[Piece]]:
    """(header, sections) of a valid file."""
    t = len(data) - TRAILER_LEN
    dir_off, nsec = struct.unpack_from("<QI", data, t)
    (header_len,) = struct.unpack_from("<I", data, 12)
    pieces = []
    for i in range(nsec):
        stype, flags, _crc, off, length = struct.unpack_from("<HHIQQ", data, dir_off + 24 * i)
        pieces.append(Piece(stype, flags, data[off : off + length]))
    return data[:header_len], pieces


def join(header: bytes, pieces: list[Piece]) -> bytes:
    """A file from a header and sections, every checksum recomputed."""
    head = bytearray(header)
    struct.pack_into("<I", head, len(head) - 4, crc32c(head[: len(head) - 4]))
    out = bytearray(head)
    entries = []
    for p in pieces:
        out += b"\x00" * (-len(out) % 8)
        entries.append(
            struct.pack("<HHIQQ", p.type, p.flags, crc32c(p.payload), len(out), len(p.payload))
        )
        out += p.payload
    out += b"\x00" * (-len(out) % 8)
    dir_off = len(out)
    out += b"".join(entries)
    crc = crc32c(out)
    out += struct.pack("<QIIQ", dir_off, len(pieces), crc, len(out) + TRAILER_LEN) + b"STENOEND"
    return bytes(out)


def reseal(data: bytes) -> bytes:
    """Recomputes header, section and file checksums after an edit inside sections."""
    header, pieces = split(data)
    return join(header, pieces)


def with_header_field(data: bytes, fmt: str, offset: int, value: int) -> bytes:
    header, pieces = split(data)
    h = bytearray(header)
    struct.pack_into(fmt, h, offset, value)
    return join(bytes(h), pieces)
