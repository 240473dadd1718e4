"""bench.stored: counting pcap records and TPACKET_V3 blocks as the benchmark does."""

from __future__ import annotations

import struct
from pathlib import Path

from bench.stored import count_block_file, count_pcap_records
from steno.lab.pcap import write_pcap_frames

BLOCK = 1 << 16


def test_pcap_records_counted_and_a_torn_last_one_is_not(tmp_path: Path) -> None:
    frames = [bytes([i]) * (60 + i) for i in range(200)]
    data = b"".join(frames)
    offsets = [0]
    for fr in frames:
        offsets.append(offsets[-1] + len(fr))
    path = tmp_path / "x.pcap"
    with open(path, "wb") as out:
        write_pcap_frames(out, data, offsets)
    assert count_pcap_records(path, chunk=1000) == 200
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 10)
    assert count_pcap_records(path, chunk=1000) == 199


def block(num_pkts: int, frame: bytes = bytes(60)) -> bytes:
    """A TPACKET_V3 block of num_pkts packets (48-byte block header, 82-byte
    packet headers, 8-byte alignment)."""
    out = bytearray(BLOCK)
    off = 48
    for i in range(num_pkts):
        rec = (82 + len(frame) + 7) & ~7
        nxt = rec if i + 1 < num_pkts else 0
        struct.pack_into("<IIIIIIHH", out, off, nxt, 1, 0, len(frame), len(frame), 1, 82, 96)
        out[off + 82 : off + 82 + len(frame)] = frame
        off += rec
    struct.pack_into("<IIIIII", out, 0, 2, 48, 1, num_pkts, 48, off)
    struct.pack_into("<Q", out, 24, 1)
    return bytes(out)


def test_blocks_counted_up_to_zero_fill_or_a_bad_block(tmp_path: Path) -> None:
    path = tmp_path / "pkt"
    path.write_bytes(block(3) + block(5) + bytes(BLOCK))
    assert count_block_file(path, BLOCK) == (8, False)
    path.write_bytes(block(3) + b"\xff" * BLOCK + block(5))
    assert count_block_file(path, BLOCK) == (3, True)
