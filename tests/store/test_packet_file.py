"""Packet files: blocks read and checked, exported as pcap that tcpdump reads."""

from __future__ import annotations

import subprocess
from array import array
from pathlib import Path

import pytest

from steno.lab import frames as f
from steno.lab.pcap import Precision, read_pcap
from steno.store.packet_file import PacketFile, PacketFileError, count_packets, export_pcap
from tests.native.blocks import build_block

BS = 1 << 16


def _frames(n: int, start: int = 0) -> list[bytes]:
    return [
        f.pad(b"\x02" * 6 + b"\x02\xee" + i.to_bytes(4, "big") + b"\x88\xb5", 60 + i % 30)
        for i in range(start, start + n)
    ]


def _file(tmp_path: Path, blocks: list[bytes], tail: bytes = b"") -> Path:
    p = tmp_path / "1700000000000000"
    p.write_bytes(b"".join(blocks) + tail)
    return p


def test_export_all_and_count(tmp_path: Path) -> None:
    a, b = _frames(40), _frames(25, 40)
    path = _file(
        tmp_path,
        [
            build_block([(x, 1, i * 1000, None, None) for i, x in enumerate(a)], block_size=BS),
            build_block([(x, 2, i, 9, None) for i, x in enumerate(b)], block_size=BS, seq=2),
            bytes(BS),
        ],
    )
    assert count_packets(path, block_size=BS) == 65
    out = tmp_path / "out.pcap"
    assert export_pcap(path, out, block_size=BS) == 65
    header, recs = read_pcap(out)
    assert header.precision is Precision.MICRO
    assert [r.data for r in recs[:40]] == a
    assert [r.data for r in recs[40:]] == [x[:12] + b"\x81\x00\x00\x09" + x[12:] for x in b]
    # tcpdump is a test dependency (dev.sh installs it): no silent skip.
    lines = subprocess.run(
        ["tcpdump", "-r", str(out), "-nn"], capture_output=True, text=True, check=True
    ).stdout
    assert sum(1 for line in lines.splitlines() if not line.startswith("\t")) == 65


def test_export_positions(tmp_path: Path) -> None:
    a = _frames(10)
    path = _file(tmp_path, [build_block([(x, 1, 0, None, None) for x in a], block_size=BS)] * 2)
    with PacketFile(path, block_size=BS) as pf:
        firsts = array("Q", [48, BS + 48])
        out = tmp_path / "sel.pcap"
        with open(out, "wb") as o:
            assert pf.export_pcap(o, nano=True, positions=firsts) == 2
        header, recs = read_pcap(out)
        assert header.precision is Precision.NANO
        assert [r.data for r in recs] == [a[0], a[0]]
        with open(out, "wb") as o, pytest.raises(PacketFileError, match="past the data"):
            pf.export_pcap(o, positions=array("Q", [5 * BS]))


def test_torn_and_foreign_files_are_refused(tmp_path: Path) -> None:
    good = build_block([(x, 1, 0, None, None) for x in _frames(3)], block_size=BS)
    with pytest.raises(PacketFileError, match="multiple of the block size"):
        PacketFile(_file(tmp_path, [good], tail=b"x" * 100), block_size=BS)
    foreign = _file(tmp_path, [good, b"\x01" * BS])
    with pytest.raises(PacketFileError, match="block 1"):
        count_packets(foreign, block_size=BS)
    # Read with too small a block size, a well-filled block claims more than it.
    full = build_block([(x, 1, 0, None, None) for x in _frames(300)], block_size=BS)
    with pytest.raises(PacketFileError, match="block 0"):
        count_packets(_file(tmp_path, [full]), block_size=BS // 2)
