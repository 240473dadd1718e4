"""Point extraction for queries: packets read where they lie, checked, time-filtered."""

from __future__ import annotations

import io
from array import array
from pathlib import Path
from typing import Any

import pytest
from steno.native._steno import ffi

from steno.lab.pcap import iter_pcap
from steno.native.extract import PacketFileCorrupt, PacketFileMap
from tests.support.tpacket import TP_STATUS_VLAN_VALID, Packet, blocks

BS = 4096


def frame(i: int, size: int = 80) -> bytes:
    return bytes([i % 251]) * size


@pytest.fixture
def packet_file(tmp_path: Path) -> tuple[Path, list[int], list[Packet]]:
    packets = [Packet(frame=frame(i, 60 + i % 300), sec=1000 + i, nsec=i) for i in range(60)]
    packets[7] = Packet(frame=frame(7), sec=1007, nsec=7, status=TP_STATUS_VLAN_VALID, vlan_tci=42)
    data, positions = blocks(packets, BS)
    path = tmp_path / "1700000000000000"
    path.write_bytes(b"".join(data))
    return path, positions, packets


def records(pm: PacketFileMap, positions: list[int], **kw: Any) -> list[tuple[int, bytes]]:
    out = ffi.new("uint8_t[]", 1 << 16)
    got = pm.records(array("I", positions), 0, out, 1 << 16, nano=True, **kw)
    assert got.consumed == len(positions)
    buf = io.BytesIO(b"\x4d\x3c\xb2\xa1" + bytes(20) + got.data)
    return [(r.ts_ns, r.data) for r in iter_pcap(buf)[1]]


def test_reads_just_the_chosen_packets(packet_file: tuple[Path, list[int], list[Packet]]) -> None:
    path, positions, packets = packet_file
    chosen = [0, 5, 6, 30, 59]
    with PacketFileMap(path, BS) as pm:
        got = records(pm, [positions[i] for i in chosen])
    assert [d for _, d in got] == [packets[i].frame for i in chosen]
    assert [t for t, _ in got] == [(1000 + i) * 10**9 + i for i in chosen]


def test_puts_the_stripped_vlan_tag_back(packet_file: tuple[Path, list[int], list[Packet]]) -> None:
    path, positions, packets = packet_file
    with PacketFileMap(path, BS) as pm:
        ((_, data),) = records(pm, [positions[7]])
    assert data == packets[7].frame[:12] + b"\x81\x00\x00\x2a" + packets[7].frame[12:]


def test_time_window_is_inclusive_then_exclusive(
    packet_file: tuple[Path, list[int], list[Packet]],
) -> None:
    path, positions, _ = packet_file
    lo, hi = 1010 * 10**9 + 10, 1020 * 10**9 + 20
    with PacketFileMap(path, BS) as pm:
        got = records(pm, positions, time_lo=lo, time_hi=hi)
        kept = pm.positions_in_time(array("I", positions), lo, hi)
    assert [t for t, _ in got] == [(1000 + i) * 10**9 + i for i in range(10, 20)]
    assert list(kept) == positions[10:20]


def test_resumes_where_the_buffer_filled(packet_file: tuple[Path, list[int], list[Packet]]) -> None:
    path, positions, packets = packet_file
    out = ffi.new("uint8_t[]", 1000)
    pos = array("I", positions)
    seen: list[bytes] = []
    start = 0
    with PacketFileMap(path, BS) as pm:
        while start < len(pos):
            got = pm.records(pos, start, out, 1000)
            assert got.consumed > 0
            start += got.consumed
            buf = io.BytesIO(b"\xd4\xc3\xb2\xa1" + bytes(20) + got.data)
            seen.extend(r.data for r in iter_pcap(buf)[1])
    assert seen[:7] == [p.frame for p in packets[:7]]
    assert len(seen) == len(packets)


def test_a_position_that_is_not_a_packet_is_corruption(
    packet_file: tuple[Path, list[int], list[Packet]],
) -> None:
    path, positions, _ = packet_file
    with PacketFileMap(path, BS) as pm:
        for bad in (positions[3] + 8, path.stat().st_size + 48, 12):
            with pytest.raises(PacketFileCorrupt):
                records(pm, [bad])


def test_garbage_blocks_never_read_out_of_bounds(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    path = tmp_path / "garbage"
    path.write_bytes(bytes(rng.getrandbits(8) for _ in range(BS * 3)))
    with PacketFileMap(path, BS) as pm:
        for _ in range(500):
            with pytest.raises(PacketFileCorrupt):
                records(pm, [rng.randrange(0, BS * 3, 8)])
        assert list(pm.all_positions()) == []


def test_all_positions_enumerates_a_whole_file(
    packet_file: tuple[Path, list[int], list[Packet]],
) -> None:
    path, positions, _ = packet_file
    with PacketFileMap(path, BS) as pm:
        assert list(pm.all_positions()) == positions


def test_records_stop_at_end(packet_file: tuple[Path, list[int], list[Packet]]) -> None:
    path, positions, packets = packet_file
    out = ffi.new("uint8_t[]", 1 << 16)
    with PacketFileMap(path, BS) as pm:
        got = pm.records(array("I", positions), 8, out, 1 << 16, end=15)
    assert got.consumed == 7
    buf = io.BytesIO(b"\xd4\xc3\xb2\xa1" + bytes(20) + got.data)
    assert [r.data for r in iter_pcap(buf)[1]] == [p.frame for p in packets[8:15]]
