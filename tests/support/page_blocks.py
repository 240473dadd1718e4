"""Small packet files of page-sized blocks, and reading records back, for the
tests of dense reads (``test_direct_read``, ``test_scan``): a page is the
smallest block ``O_DIRECT`` takes, so windows of a few blocks come from a
file of a few hundred packets."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

from steno.native._steno import ffi

from steno.lab.pcap import iter_pcap
from tests.support.tpacket import Packet, blocks

BS = 4096


def packet_file(tmp_path: Path, count: int = 400, seed: int = 3) -> tuple[Path, list[int]]:
    """Random frames one second apart (1000 s, 1001 s, ...) in blocks of
    ``BS``; the file and every packet's position."""
    rng = random.Random(seed)
    packets = [
        Packet(frame=rng.randbytes(rng.choice((60, 300, 1000, 1514))), sec=1000 + i, nsec=i)
        for i in range(count)
    ]
    data, positions = blocks(packets, BS)
    path = tmp_path / "1700000000000000"
    path.write_bytes(b"".join(data))
    return path, positions


def record_frames(records: bytes) -> list[bytes]:
    """The frames of pcap records (no file header)."""
    return [r.data for r in iter_pcap(io.BytesIO(b"\xd4\xc3\xb2\xa1" + bytes(20) + records))[1]]


class OneBlockAtATime:
    """A ``Spans`` of single blocks read with plain ``pread``: no span ever
    holds two blocks, so every read crosses into a new one."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.buf = ffi.new("uint8_t[]", BS)

    def span_for(self, position: int) -> tuple[Any, int, int]:
        off = position // BS * BS
        n = os.preadv(self.fd, [ffi.buffer(self.buf)], off)
        return (self.buf, off, n if n == BS else 0)

    def close(self) -> None:
        os.close(self.fd)


class AlwaysTheFirstBlock(OneBlockAtATime):
    """A broken ``Spans``: whatever is asked, block 0."""

    def span_for(self, position: int) -> tuple[Any, int, int]:
        return super().span_for(0)
