"""Merging and limiting pcap record streams in C (``c/pcapstream.h``)."""

from __future__ import annotations

import enum
import struct
from typing import Any

import attrs

from steno.native._steno import ffi, lib

UNLIMITED = 2**63 - 1


class MergeStatus(enum.IntEnum):
    OUT_FULL = lib.STENO_MERGE_OUT_FULL
    NEED_INPUT = lib.STENO_MERGE_NEED_INPUT
    END = lib.STENO_MERGE_END


class StreamFormatError(ValueError):
    """A record stream holds a truncated record (a bug upstream of here)."""


class Merger:
    """K streams of records, each in time order, merged into one.

    Feed each input a chunk at a time; :meth:`merge` says which input to refill
    when one runs dry before it is done, so memory stays at one chunk per input.
    """

    def __init__(self, inputs: int, out_cap: int = 1 << 20) -> None:
        self._n = inputs
        self._in: Any = ffi.new("struct steno_pcap_input[]", inputs)
        self._keep: list[Any] = [None] * inputs
        self._out = ffi.new("uint8_t[]", out_cap)
        self._cap = out_cap

    def feed(self, i: int, data: bytes, *, done: bool) -> None:
        """Gives input i its next chunk (its previous one must be used up)."""
        buf = ffi.from_buffer("uint8_t[]", data) if data else ffi.NULL
        self._keep[i] = (data, buf)
        self._in[i].data = buf
        self._in[i].len = len(data)
        self._in[i].off = 0
        self._in[i].done = int(done)

    def merge(self) -> tuple[bytes, MergeStatus, int]:
        """(records in time order, why it stopped, the input to refill if NEED_INPUT)."""
        out_len = ffi.new("size_t *")
        packets = ffi.new("uint32_t *")
        status = ffi.new("int *")
        which = ffi.new("size_t *")
        rc = lib.steno_pcap_merge(
            self._in, self._n, self._out, self._cap, out_len, packets, status, which
        )
        if rc < 0:
            raise StreamFormatError("truncated pcap record in a merge input")
        return bytes(ffi.buffer(self._out, out_len[0])), MergeStatus(status[0]), int(which[0])


@attrs.define
class Budget:
    """A query's remaining limits (upstream's Steno-Limit-Packets / -Bytes)."""

    packets: int = UNLIMITED
    nbytes: int = UNLIMITED

    def cut(self, records: bytes) -> tuple[int, bool]:
        """How many bytes of `records` fit, and whether the budget is now spent."""
        packets = ffi.new("int64_t *", self.packets)
        nbytes = ffi.new("int64_t *", self.nbytes)
        stop = ffi.new("int *")
        kept = lib.steno_pcap_limit(
            ffi.from_buffer("uint8_t[]", records) if records else ffi.NULL,
            len(records),
            packets,
            nbytes,
            stop,
        )
        if kept < 0:
            raise StreamFormatError("truncated pcap record")
        self.packets, self.nbytes = int(packets[0]), int(nbytes[0])
        return int(kept), bool(stop[0])


def pcapng_header(*, snaplen: int, linktype: int = 1) -> bytes:
    """A pcapng Section Header Block and one Interface Description Block whose
    timestamps are nanoseconds (if_tsresol 9), for :func:`pcapng_blocks`."""
    shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    options = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
    idb_len = 16 + len(options) + 4
    idb = (
        struct.pack("<IIHHI", 1, idb_len, linktype, 0, snaplen)
        + options
        + struct.pack("<I", idb_len)
    )
    return shb + idb


def pcapng_blocks(records: bytes) -> bytes:
    """Nanosecond pcap records rewritten as pcapng Enhanced Packet Blocks."""
    if not records:
        return b""
    cap = 2 * len(records) + 64 + len(records) // 4
    out = ffi.new("uint8_t[]", cap)
    n = lib.steno_pcapng_blocks(ffi.from_buffer("uint8_t[]", records), len(records), out, cap)
    if n < 0:
        raise StreamFormatError("truncated pcap record")
    return bytes(ffi.buffer(out, n))
