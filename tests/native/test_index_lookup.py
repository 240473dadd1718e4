"""The C index reader (index_lookup.c through IndexReader) against the Python reader.

Both read files from the C writer; every look-up the query engine will make
(a key, a key range, flows to positions, the block table) must give the same
answer from both.
"""

from __future__ import annotations

import contextlib
import ipaddress
import mmap
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steno.native.index import IndexBuilder, IndexReader
from steno.store.index_format import KEY_IPV4, KEY_IPV6, KEY_PORT, IndexFile, IndexFormatError
from tests.support import frames as F
from tests.support import index_surgery as S
from tests.support import tpacket as T

BS = 1 << 15


def traffic(seed: int, flows: int, packets: int) -> bytes:
    rng = random.Random(seed)
    frames = []
    for i in range(flows):
        if rng.random() < 0.3:
            a = f"2001:db8::{rng.randrange(1, 50):x}"
            b = f"2001:db8:1::{rng.randrange(1, 5):x}"
            ip = F.ipv6(a, b, 17, F.udp(rng.randrange(1024, 65536), 53))
            frames.append(F.ethernet(F.ETH_IPV6) + ip)
        else:
            a = f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            ip = F.ipv4(a, "192.0.2.80", 6, F.tcp(rng.randrange(1024, 65536), 443))
            tagged = i % 5 == 0
            eth = (
                F.ethernet(F.ETH_8021Q) + F.vlan(i % 7, F.ETH_IPV4)
                if tagged
                else (F.ethernet(F.ETH_IPV4))
            )
            frames.append(eth + ip)
    # Heavy-tailed flow popularity, as real traffic.
    weights = [1 / (i + 1) for i in range(flows)]
    chosen = rng.choices(frames, weights, k=packets)
    pkts = [T.Packet(frame=f, sec=1_700_000_000 + i // 100, nsec=i) for i, f in enumerate(chosen)]
    blocks, _ = T.blocks(pkts, BS)
    with IndexBuilder(BS) as builder:
        for i, blk in enumerate(blocks):
            builder.add_block(blk, i * BS)
        return builder.serialize(len(blocks) * BS)


DATA = traffic(1, 400, 5000)


@pytest.fixture(scope="module")
def both() -> tuple[IndexReader, IndexFile]:
    return IndexReader(DATA), IndexFile.from_bytes(DATA)


def test_info_and_blocks_agree(both: tuple[IndexReader, IndexFile]) -> None:
    c, py = both
    h = py.header
    assert (c.info.major, c.info.minor, c.info.block_size) == (h.major, h.minor, h.block_size)
    assert (c.info.packets, c.info.flows, c.info.blocks) == (
        h.packet_count,
        h.flow_count,
        h.block_count,
    )
    assert (c.info.first_ns, c.info.last_ns, c.info.packet_file_size) == (
        h.first_ns,
        h.last_ns,
        h.packet_file_size,
    )
    assert [(b.index, b.packets, b.first_ns, b.last_ns) for b in c.blocks()] == [
        (b.index, b.packets, b.first_ns, b.last_ns) for b in py.blocks
    ]


def test_every_key_agrees(both: tuple[IndexReader, IndexFile]) -> None:
    c, py = both
    checked = 0
    for key_type in py.key_types():
        assert c.key_width(key_type) == len(py.keys(key_type)[0])
        for key in py.keys(key_type):
            assert tuple(c.flows_for_key(key_type, key)) == py.flows_for_key(key_type, key)
            assert tuple(c.positions_for_key(key_type, key)) == py.positions_for_key(key_type, key)
            checked += 1
    assert checked > 300


def test_every_flow_agrees(both: tuple[IndexReader, IndexFile]) -> None:
    c, py = both
    flows = py.all_flows()
    for i, positions in enumerate(flows):
        assert tuple(c.positions([i])) == positions
    everything = c.positions(list(range(len(flows))))
    assert len(everything) == py.header.packet_count
    assert list(everything) == sorted(p for f in flows for p in f)


def test_flow_ids_in_any_order_with_repeats(both: tuple[IndexReader, IndexFile]) -> None:
    c, py = both
    ids = [70, 3, 3, 129, 64, 63, 0, 70, 65]
    assert tuple(c.positions(ids)) == py.positions_for_flows(tuple(ids))


def test_ranges_agree(both: tuple[IndexReader, IndexFile]) -> None:
    c, py = both
    for net in ["10.0.0.0/8", "10.1.0.0/16", "10.2.3.0/24", "0.0.0.0/0", "11.0.0.0/8"]:
        n = ipaddress.IPv4Network(net)
        lo, hi = n.network_address.packed, n.broadcast_address.packed
        assert tuple(c.flows_for_range(KEY_IPV4, lo, hi)) == py.flows_for_key_range(
            KEY_IPV4, lo, hi
        )
        assert tuple(c.positions_for_range(KEY_IPV4, lo, hi)) == py.positions_for_key_range(
            KEY_IPV4, lo, hi
        )
    n6 = ipaddress.IPv6Network("2001:db8::/48")
    lo, hi = n6.network_address.packed, n6.broadcast_address.packed
    assert tuple(c.positions_for_range(KEY_IPV6, lo, hi)) == py.positions_for_key_range(
        KEY_IPV6, lo, hi
    )
    assert len(c.positions_for_range(KEY_IPV6, lo, hi)) > 0
    # Ports 1024-2047, and an empty (reversed) range.
    assert tuple(c.flows_for_range(KEY_PORT, b"\x04\x00", b"\x07\xff")) == py.flows_for_key_range(
        KEY_PORT, b"\x04\x00", b"\x07\xff"
    )
    assert len(c.flows_for_range(KEY_PORT, b"\x07\xff", b"\x04\x00")) == 0


def test_missing_keys_and_types(both: tuple[IndexReader, IndexFile]) -> None:
    c, _ = both
    assert len(c.flows_for_key(KEY_PORT, b"\x00\x01")) == 0
    assert len(c.positions_for_key(5, b"\x00\x00\x00\x01")) == 0  # no MPLS in this file
    assert c.key_width(5) == 0
    assert len(c.positions([])) == 0


def test_bad_arguments(both: tuple[IndexReader, IndexFile]) -> None:
    c, _ = both
    with pytest.raises(ValueError, match="not 3 bytes"):
        c.flows_for_key(KEY_PORT, b"\x00\x00\x01")
    with pytest.raises(ValueError, match="not below"):
        c.positions([c.info.flows])
    with pytest.raises(ValueError, match="differ in length"):
        c.flows_for_range(KEY_PORT, b"\x00", b"\x00\x01")


def test_closed_reader() -> None:
    r = IndexReader(DATA)
    r.close()
    with pytest.raises(ValueError, match="closed"):
        r.positions([0])


def test_crc_is_optional_but_structure_is_not() -> None:
    bad = bytearray(DATA)
    bad[200] ^= 1
    with pytest.raises(OSError, match="checksum"):
        IndexReader(bytes(bad))
    IndexReader(bytes(bad), verify_crc=False).close()  # structure intact, CRC skipped


def test_empty_index() -> None:
    with IndexBuilder(BS) as b:
        data = b.serialize(0)
    with IndexReader(data) as r:
        assert (r.info.packets, r.info.flows, r.info.blocks) == (0, 0, 0)
        assert len(r.flows_for_key(KEY_PORT, b"\x00\x50")) == 0
    assert IndexFile.from_bytes(data).key_map() == {}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), flows=st.integers(1, 300), packets=st.integers(1, 1500))
def test_random_files_agree(seed: int, flows: int, packets: int) -> None:
    data = traffic(seed, flows, packets)
    py = IndexFile.from_bytes(data)
    py.verify()
    with IndexReader(data) as c:
        for key_type in py.key_types():
            keys = py.keys(key_type)
            for key in keys[:: max(1, len(keys) // 20)]:
                assert tuple(c.positions_for_key(key_type, key)) == py.positions_for_key(
                    key_type, key
                )
        ids = list(range(0, py.header.flow_count, 3))
        assert tuple(c.positions(ids)) == py.positions_for_flows(tuple(ids))


@settings(max_examples=200, deadline=None)
@given(at=st.integers(0, 10**9), value=st.integers(0, 255))
def test_resealed_garbage_never_crashes(at: int, value: int) -> None:
    """Edit any byte inside a section, fix every checksum: open and every look-up
    either work or raise, in both readers -- the process survives."""
    header, pieces = S.split(DATA)
    sizes = [len(p.payload) for p in pieces]
    at %= sum(sizes)
    for p in pieces:
        if at < len(p.payload):
            payload = bytearray(p.payload)
            payload[at] = value
            p.payload = bytes(payload)
            break
        at -= len(p.payload)
    bad = S.join(header, pieces)
    try:
        r = IndexReader(bad)
    except OSError:
        pass
    else:
        with r:
            for key_type in range(1, 7):
                w = r.key_width(key_type)
                if w:
                    with contextlib.suppress(OSError, ValueError):
                        r.positions_for_range(key_type, bytes(w), b"\xff" * w)
            with contextlib.suppress(OSError, ValueError):
                r.positions(list(range(r.info.flows)))
    # The Python reader: IndexFormatError or nothing; anything else fails the test.
    with contextlib.suppress(IndexFormatError):
        IndexFile.from_bytes(bad).verify()


def test_block_size_field_is_what_positions_mean() -> None:
    (block_size,) = struct.unpack_from("<I", DATA, 16)
    assert block_size == BS


def test_reads_an_mmap(tmp_path: Path) -> None:
    path = tmp_path / "index"
    path.write_bytes(DATA)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        r = IndexReader(m)
        assert r.info.packets == IndexFile.from_bytes(DATA).header.packet_count
        assert len(r.positions([0])) > 0
        r.close()


@settings(max_examples=40, deadline=None)
@given(lo=st.integers(1_699_999_990, 1_700_000_060), width=st.integers(0, 20))
def test_blocks_in_time_are_those_with_a_packet_in_the_window(
    both: tuple[IndexReader, IndexFile], lo: int, width: int
) -> None:
    c, _ = both
    time_lo, time_hi = lo * 10**9, (lo + width) * 10**9
    expected = [
        b.index for b in c.blocks() if b.packets and b.last_ns >= time_lo and b.first_ns < time_hi
    ]
    assert c.blocks_in_time(time_lo, time_hi).tolist() == expected


def test_blocks_in_time_of_an_empty_index() -> None:
    with IndexBuilder(BS) as b:
        data = b.serialize(0)
    assert IndexReader(data).blocks_in_time(0, 2**64 - 1).tolist() == []
