"""Classic pcap files: writing what the generator made, reading what steno exports.

The format (libpcap's ``pcap-savefile(5)``): a 24-byte file header — magic,
version 2.4, thiszone, sigfigs, snaplen, link type — then per packet a 16-byte
record header — seconds, sub-second part, captured length, original length —
and the captured bytes.  The magic says the byte order and the precision:
``0xa1b2c3d4`` microseconds, ``0xa1b23c4d`` nanoseconds.  Written files are
little-endian; both byte orders are read.

This module is the lab's own and independent of the query side's pcap writer,
so that tests compare two implementations, plus tcpdump and tshark.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import attrs

MAGIC_MICRO = 0xA1B2C3D4
MAGIC_NANO = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
DEFAULT_SNAPLEN = 65536
FILE_HEADER_LEN = 24
RECORD_HEADER_LEN = 16


class PcapFormatError(ValueError):
    """Not a pcap file, or a truncated one."""


class Precision(enum.Enum):
    MICRO = "micro"
    NANO = "nano"

    @property
    def magic(self) -> int:
        return MAGIC_NANO if self is Precision.NANO else MAGIC_MICRO

    @property
    def per_second(self) -> int:
        return 1_000_000_000 if self is Precision.NANO else 1_000_000


@attrs.frozen
class PcapHeader:
    precision: Precision = Precision.MICRO
    snaplen: int = DEFAULT_SNAPLEN
    linktype: int = LINKTYPE_ETHERNET
    version: tuple[int, int] = (2, 4)
    big_endian: bool = False


@attrs.frozen
class PcapRecord:
    """One packet.  ts_ns is nanoseconds since the epoch (truncated to
    microseconds by a microsecond file); orig_len is its length on the wire."""

    ts_ns: int
    data: bytes
    orig_len: int


def file_header(header: PcapHeader = PcapHeader()) -> bytes:
    if header.big_endian:
        raise ValueError("this writer writes little-endian files")
    major, minor = header.version
    return struct.pack(
        "<IHHiIII", header.precision.magic, major, minor, 0, 0, header.snaplen, header.linktype
    )


class PcapWriter:
    """Writes records to a binary file object (the caller closes it)."""

    def __init__(self, out: BinaryIO, header: PcapHeader = PcapHeader()) -> None:
        self._out = out
        self.header = header
        self._div = 1_000_000_000 // header.precision.per_second
        self._rec = struct.Struct("<IIII")
        out.write(file_header(header))
        self.count = 0

    def write(
        self, ts_ns: int, data: bytes | bytearray | memoryview, orig_len: int | None = None
    ) -> None:
        """One record; data longer than the snaplen is cut (orig_len keeps the truth)."""
        sec, sub = divmod(ts_ns, 1_000_000_000)
        caplen = min(len(data), self.header.snaplen)
        wire = len(data) if orig_len is None else orig_len
        self._out.write(self._rec.pack(sec, sub // self._div, caplen, wire))
        self._out.write(data[:caplen] if caplen < len(data) else data)
        self.count += 1

    def write_record(self, rec: PcapRecord) -> None:
        self.write(rec.ts_ns, rec.data, rec.orig_len)


def write_pcap(
    path: str | Path, records: Iterable[PcapRecord], header: PcapHeader = PcapHeader()
) -> int:
    """Writes records to path; returns how many."""
    with open(path, "wb") as out:
        w = PcapWriter(out, header)
        for rec in records:
            w.write_record(rec)
        return w.count


def write_pcap_frames(
    out: BinaryIO,
    data: bytes | bytearray | memoryview,
    offsets: Sequence[int],
    *,
    start_ns: int = 1_700_000_000_000_000_000,
    interval_ns: int = 1000,
    header: PcapHeader = PcapHeader(),
) -> int:
    """Writes frames laid out back to back (frame i = data[offsets[i]:offsets[i+1]])
    with synthetic timestamps start_ns + i * interval_ns; returns how many."""
    w = PcapWriter(out, header)
    view = memoryview(data)
    for i in range(len(offsets) - 1):
        w.write(start_ns + i * interval_ns, view[offsets[i] : offsets[i + 1]])
    return w.count


def _parse_header(raw: bytes) -> tuple[PcapHeader, str]:
    if len(raw) < FILE_HEADER_LEN:
        raise PcapFormatError(
            f"a pcap file starts with {FILE_HEADER_LEN} header bytes; got {len(raw)}"
        )
    for order, big in (("<", False), (">", True)):
        (magic,) = struct.unpack(order + "I", raw[:4])
        if magic in (MAGIC_MICRO, MAGIC_NANO):
            _, major, minor, _, _, snaplen, linktype = struct.unpack(order + "IHHiIII", raw[:24])
            precision = Precision.NANO if magic == MAGIC_NANO else Precision.MICRO
            return PcapHeader(precision, snaplen, linktype & 0x0FFFFFFF, (major, minor), big), order
    raise PcapFormatError(f"not a pcap file (magic {raw[:4].hex()})")


def iter_pcap(f: BinaryIO) -> tuple[PcapHeader, Iterator[PcapRecord]]:
    """The header of the pcap file f and an iterator over its records."""
    header, order = _parse_header(f.read(FILE_HEADER_LEN))
    rec = struct.Struct(order + "IIII")
    mult = 1_000_000_000 // header.precision.per_second

    def records() -> Iterator[PcapRecord]:
        index = 0
        while True:
            raw = f.read(RECORD_HEADER_LEN)
            if not raw:
                return
            if len(raw) < RECORD_HEADER_LEN:
                raise PcapFormatError(f"record {index}: truncated record header")
            sec, sub, caplen, wire = rec.unpack(raw)
            if caplen > max(header.snaplen, 262144):
                raise PcapFormatError(f"record {index}: captured length {caplen} is not plausible")
            data = f.read(caplen)
            if len(data) < caplen:
                raise PcapFormatError(
                    f"record {index}: truncated data ({len(data)} of {caplen} bytes)"
                )
            yield PcapRecord(ts_ns=sec * 1_000_000_000 + sub * mult, data=data, orig_len=wire)
            index += 1

    return header, records()


def read_pcap(path: str | Path) -> tuple[PcapHeader, list[PcapRecord]]:
    """The header and every record of the pcap file at path."""
    with open(path, "rb") as f:
        header, records = iter_pcap(f)
        return header, list(records)
