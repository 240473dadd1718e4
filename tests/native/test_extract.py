"""Packet-file blocks to pcap records, in C: contents, VLAN re-insertion,
positions, and refusal of bad blocks."""

from __future__ import annotations

import errno
import random
import struct
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steno.lab import frames as f
from steno.native.extract import BlockError, Extractor, block_info, pcap_file_header
from tests.native.blocks import MAC_OFF, build_block

BS = 1 << 16


def _records(data: bytes) -> list[tuple[int, int, int, int, bytes]]:
    out, p = [], 0
    while p < len(data):
        sec, sub, incl, orig = struct.unpack_from("<IIII", data, p)
        out.append((sec, sub, incl, orig, data[p + 16 : p + 16 + incl]))
        p += 16 + incl
    return out


def _frame(n: int) -> bytes:
    return f.pad(
        b"\x02" * 6 + b"\x02\x00" + n.to_bytes(4, "big") + b"\x08\x00" + bytes(range(40)),
        60 + n % 7,
    )


def test_file_header_is_pcap() -> None:
    assert pcap_file_header() == bytes.fromhex("d4c3b2a10200040000000000000000000000010001000000")
    assert pcap_file_header(nano=True)[:4] == bytes.fromhex("4d3cb2a1")


def test_every_packet_comes_out_as_it_went_in() -> None:
    frames = [_frame(i) for i in range(50)]
    blk = build_block(
        [(fr, 1000 + i, 123456789, None, None) for i, fr in enumerate(frames)], block_size=BS
    )
    got = Extractor(BS).block(blk)
    recs = _records(got.data)
    assert got.packets == 50
    assert got.vlan_restored == 0
    assert [r[4] for r in recs] == frames
    assert [(r[0], r[1]) for r in recs] == [(1000 + i, 123456) for i in range(50)]
    assert all(r[2] == r[3] == len(r[4]) for r in recs)
    nano = _records(Extractor(BS, nano=True).block(blk).data)
    assert {r[1] for r in nano} == {123456789}


def test_stripped_tag_goes_back_where_it_was() -> None:
    wire = f.ethernet(
        b"\x02" * 6,
        b"\x04" * 6,
        f.ETH_P_IPV4,
        bytes(46),
        tags=(f.Tag(0x2064, f.TPID_8021AD), f.Tag(7)),
    )
    stripped, tag = f.strip_outer_tag(wire)
    assert tag == f.Tag(0x2064, f.TPID_8021AD)
    q = f.ethernet(b"\x02" * 6, b"\x04" * 6, f.ETH_P_IPV4, bytes(46), tags=(f.Tag(0x0123),))
    q_stripped, _ = f.strip_outer_tag(q)
    blk = build_block(
        [
            (stripped, 1, 0, 0x2064, f.TPID_8021AD),
            (q_stripped, 2, 0, 0x0123, None),
            (stripped, 3, 0, None, None),
        ],
        block_size=BS,
    )
    got = Extractor(BS).block(blk)
    recs = _records(got.data)
    assert got.vlan_restored == 2
    assert recs[0][4] == wire
    assert recs[0][2] == recs[0][3] == len(wire)
    assert recs[1][4] == q  # no valid TPID: 0x8100
    assert recs[2][4] == stripped


def test_snaplen_cuts_data_not_original_length() -> None:
    blk = build_block([(_frame(3) * 20, 1, 0, 5, None)], block_size=BS)
    (rec,) = _records(Extractor(BS, snaplen=100).block(blk).data)
    assert rec[2] == 100
    assert len(rec[4]) == 100
    assert rec[3] == len(_frame(3)) * 20 + 4


def test_positions_select_packets_across_blocks() -> None:
    frames = [_frame(i) for i in range(30)]
    blocks = [
        build_block(
            [(fr, i, 0, None, None) for i, fr in enumerate(frames[k : k + 10], k)], block_size=BS
        )
        for k in (0, 10, 20)
    ]

    def offsets(chunk: list[bytes]) -> list[int]:
        offs = [48]
        for fr in chunk[:-1]:
            offs.append(offs[-1] + ((MAC_OFF + len(fr) + 7) & ~7))
        return offs

    offs = offsets(frames[:10])
    positions = array("Q", [offs[1], offs[5], BS + 48, 2 * BS + offsets(frames[20:])[9]])
    ex = Extractor(BS)
    a = ex.block(blocks[0], block_pos=0, positions=positions)
    assert a.consumed == 2
    assert [r[4] for r in _records(a.data)] == [frames[1], frames[5]]
    b = ex.block(blocks[1], block_pos=BS, positions=positions, start=2)
    assert b.consumed == 1
    assert _records(b.data)[0][4] == frames[10]
    c = ex.block(blocks[2], block_pos=2 * BS, positions=positions, start=3)
    assert c.consumed == 1
    assert _records(c.data)[0][4] == frames[29]
    with pytest.raises(LookupError):
        ex.block(blocks[0], positions=array("Q", [offs[1] + 8]))
    with pytest.raises(ValueError, match="increase"):
        ex.block(blocks[0], positions=array("Q", [offs[5], offs[1]]))


def test_bad_blocks_are_refused() -> None:
    good = build_block([(_frame(1), 1, 0, None, None)], block_size=BS)
    ex = Extractor(BS)
    for bad in (bytes(BS), random.Random(1).randbytes(BS)):
        with pytest.raises(BlockError) as e:
            ex.block(bad)
        assert e.value.code == errno.EINVAL
    torn = bytearray(good)
    struct.pack_into("<I", torn, 48 + 12, 10_000)  # the packet claims more than the block holds
    with pytest.raises(BlockError) as e:
        ex.block(bytes(torn))
    assert e.value.code == errno.EBADMSG
    with pytest.raises(ValueError, match="block is"):
        ex.block(good[:100])
    assert block_info(good).num_pkts == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, BS - 1), st.integers(0, 255)), min_size=1, max_size=12))
def test_mutated_blocks_never_crash(edits: list[tuple[int, int]]) -> None:
    """Whatever bytes a block holds: a clean error or records inside bounds."""
    blk = bytearray(
        build_block(
            [(_frame(i), i, 0, i if i % 2 else None, None) for i in range(40)], block_size=BS
        )
    )
    for where, value in edits:
        blk[where % 4096 if where % 3 else where] = value
    try:
        got = Extractor(BS).block(bytes(blk))
    except BlockError:
        return
    assert len(got.data) <= BS
    assert sum(16 + r[2] for r in _records(got.data)) == len(got.data)
