"""The index builder (steno/native/index.py over index_build.c/index_write.c).

The pattern: hand-built frames -> TPACKET_V3 blocks written in Python ->
IndexBuilder -> serialize -> the pure-Python reader -> compare key -> positions
with what the frames should give.  Expectations come from the frames' intent
(or the docs/index-keys.md oracle), never from the C code under test.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import ipaddress
import itertools
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steno.native.index import IndexBuilder, frame_keys
from steno.store.index_format import (
    KEY_IPV4,
    KEY_IPV6,
    KEY_MPLS,
    KEY_PORT,
    KEY_PROTO,
    KEY_VLAN,
    IndexFile,
    encode_key,
)
from tests.support import frames as F
from tests.support import tpacket as T
from tests.support.keywalk import expected_keys

BS = 1 << 16

KeyMap = dict[tuple[int, bytes], tuple[int, ...]]


def expected_map(packets: Sequence[T.Packet], positions: Sequence[int]) -> KeyMap:
    """key -> positions, from the oracle's keys of each frame."""
    out: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    for p, pos in zip(packets, positions, strict=True):
        k = expected_keys(p.frame, tp_status=p.status, vlan_tci=p.vlan_tci)
        for t, values in (
            (KEY_PROTO, k.proto),
            (KEY_PORT, k.ports),
            (KEY_VLAN, k.vlans),
            (KEY_MPLS, k.mpls),
        ):
            for v in values:
                out[(t, encode_key(t, v))].append(pos)
        for a in k.ipv4:
            out[(KEY_IPV4, a.packed)].append(pos)
        for b in k.ipv6:
            out[(KEY_IPV6, b.packed)].append(pos)
    return {key: tuple(v) for key, v in out.items()}


def build(
    blocks: Iterable[bytes], *, block_size: int = BS, collide: bool = False
) -> tuple[bytes, IndexBuilder]:
    b = IndexBuilder(block_size)
    if collide:
        b.force_hash_collisions(0)
    n = 0
    for i, blk in enumerate(blocks):
        b.add_block(blk, i * block_size)
        n = i + 1
    return b.serialize(n * block_size), b


def index_of(packets: Sequence[T.Packet], **kw: bool) -> tuple[IndexFile, list[int], bytes]:
    blocks, positions = T.blocks(packets, BS)
    data, b = build(blocks, **kw)
    b.close()
    ix = IndexFile.from_bytes(data)
    ix.verify()
    return ix, positions, data


def pkt(frame: bytes, i: int = 0, **kw: int) -> T.Packet:
    return T.Packet(frame=frame, sec=1_700_000_000 + i // 1000, nsec=(i % 1000) * 1000, **kw)


def tcp4(a: str, b: str, sa: int, sb: int) -> bytes:
    return F.ethernet(F.ETH_IPV4) + F.ipv4(a, b, 6, F.tcp(sa, sb))


def test_keys_to_positions_exactly() -> None:
    frames = [
        tcp4("10.0.0.1", "10.0.0.2", 1234, 80),
        F.ethernet(F.ETH_IPV6) + F.ipv6("2001:db8::1", "2001:db8::2", 17, F.udp(5353, 53)),
        F.ethernet(F.ETH_8021Q)
        + F.vlan(7, F.ETH_MPLS)
        + F.mpls([16, 17])
        + F.ipv4("1.1.1.1", "2.2.2.2", 1, F.icmp_echo()),
        F.ethernet(F.ETH_ARP) + b"\x00" * 28,
    ]
    packets = [
        pkt(frames[i % 4], i, status=0x10 if i % 8 == 0 else 0, vlan_tci=99) for i in range(200)
    ]
    ix, positions, _ = index_of(packets)
    assert ix.key_map() == expected_map(packets, positions)
    assert ix.header.packet_count == 200
    assert ix.positions_for_key(KEY_VLAN, encode_key(KEY_VLAN, 99)) == tuple(positions[::8])
    assert ix.positions_for_key(KEY_PORT, encode_key(KEY_PORT, 80)) == tuple(positions[::4])


def test_both_directions_are_one_flow() -> None:
    ab = tcp4("10.0.0.1", "10.0.0.2", 1234, 80)
    ba = tcp4("10.0.0.2", "10.0.0.1", 80, 1234)
    other = tcp4("10.0.0.1", "10.0.0.2", 1235, 80)
    packets = [pkt(f, i) for i, f in enumerate([ab, ba, ab, other, ba])]
    ix, positions, _ = index_of(packets)
    assert ix.header.flow_count == 2
    assert ix.all_flows() == (tuple(positions[i] for i in (0, 1, 2, 4)), (positions[3],))
    port_80 = ix.flows_for_key(KEY_PORT, encode_key(KEY_PORT, 80))
    assert port_80 == (0, 1)
    assert ix.flows_for_key(KEY_PORT, encode_key(KEY_PORT, 1235)) == (1,)


def test_flows_are_numbered_by_first_packet() -> None:
    frames = [tcp4("10.0.0.1", "10.0.0.2", p, 80) for p in (5, 3, 9, 1)]
    packets = [pkt(frames[i], i) for i in (2, 0, 2, 3, 1, 0)]
    ix, _, _ = index_of(packets)
    assert [flow[0] for flow in ix.all_flows()] == sorted(flow[0] for flow in ix.all_flows())
    assert ix.flows_for_key(KEY_PORT, encode_key(KEY_PORT, 9)) == (0,)


def many_flows(n: int, per_flow: int = 3) -> list[T.Packet]:
    frames = [tcp4(f"10.{i >> 8 & 255}.{i & 255}.1", "192.0.2.1", 1024 + i, 443) for i in range(n)]
    return [pkt(frames[(i * 7919) % n], i) for i in range(n * per_flow)]


def test_forced_hash_collisions_never_merge_flows() -> None:
    packets = many_flows(300)
    _, positions, data = index_of(packets)
    colliding, _, data_collide = index_of(packets, collide=True)
    assert colliding.header.flow_count == 300
    assert colliding.key_map() == expected_map(packets, positions)
    # Flow numbering does not depend on hashing, so the files are identical.
    assert data_collide == data


def test_hash_mask_only_on_an_empty_builder() -> None:
    blocks, _ = T.blocks(many_flows(2), BS)
    with IndexBuilder(BS) as b:
        b.add_block(blocks[0], 0)
        with pytest.raises(OSError, match="set_hash_mask") as e:
            b.force_hash_collisions(0)
        assert e.value.errno == errno.EBUSY


def test_serialize_is_deterministic_and_keeps_the_builder() -> None:
    blocks, _ = T.blocks(many_flows(50, per_flow=10), BS)
    with IndexBuilder(BS) as b:
        b.add_block(blocks[0], 0)
        first = b.serialize(BS)
        assert b.serialize(BS) == first
        b.add_block(blocks[1], BS)
        assert IndexFile.from_bytes(b.serialize(2 * BS)).header.block_count == 2


def test_truncate_equals_never_having_added() -> None:
    packets = many_flows(100, per_flow=20)
    blocks, _ = T.blocks(packets, BS)
    assert len(blocks) >= 4
    with IndexBuilder(BS) as whole:
        for i, blk in enumerate(blocks):
            whole.add_block(blk, i * BS)
        whole.truncate(2 * BS + 1)  # the block at 2*BS starts before: it stays
        assert whole.stats().blocks == 3
        whole.truncate(2 * BS)
        truncated = whole.serialize(4 * BS)
        # Blocks may come again after the truncation point.
        whole.add_block(blocks[2], 2 * BS)
        readded = whole.serialize(4 * BS)
    with IndexBuilder(BS) as part:
        part.add_block(blocks[0], 0)
        part.add_block(blocks[1], BS)
        assert part.serialize(4 * BS) == truncated
        part.add_block(blocks[2], 2 * BS)
        assert part.serialize(4 * BS) == readded


def test_truncate_everything_and_the_time_range() -> None:
    p1 = [pkt(tcp4("10.0.0.1", "10.0.0.2", 1, 2), 5)]
    p2 = [pkt(tcp4("10.0.0.1", "10.0.0.2", 1, 2), 9000)]
    b1, _ = T.block(p1, BS)
    b2, _ = T.block(p2, BS)
    with IndexBuilder(BS) as b:
        b.add_block(b1, 0)
        b.add_block(b2, BS)
        assert b.stats().last_ns == 1_700_000_009_000_000_000
        b.truncate(BS)
        s = b.stats()
        assert (s.first_ns, s.last_ns, s.packets) == (
            1_700_000_000_000_005_000,
            1_700_000_000_000_005_000,
            1,
        )
        b.truncate(0)
        s = b.stats()
        assert (s.packets, s.blocks, s.first_ns, s.last_ns) == (0, 0, 0, 0)
        ix = IndexFile.from_bytes(b.serialize(0))
        assert ix.header.flow_count == 0
        assert ix.key_types() == ()
        b.add_block(b1, 0)
        assert b.stats().packets == 1


def test_stats() -> None:
    packets = many_flows(40)
    blocks, _ = T.blocks(packets, BS)
    with IndexBuilder(BS) as b:
        empty = b.stats()
        assert (empty.packets, empty.blocks, empty.flows, empty.first_ns) == (0, 0, 0, 0)
        assert empty.memory_bytes > 0
        for i, blk in enumerate(blocks):
            b.add_block(blk, i * BS)
        s = b.stats()
    assert s.packets == len(packets)
    assert s.blocks == len(blocks)
    assert s.flows == 40
    assert s.first_ns == min(p.sec * 10**9 + p.nsec for p in packets)
    assert s.last_ns == max(p.sec * 10**9 + p.nsec for p in packets)
    assert s.memory_bytes > empty.memory_bytes


def test_memory_grows_with_flows() -> None:
    blocks, _ = T.blocks(many_flows(3000, per_flow=1), BS)
    with IndexBuilder(BS) as b:
        before = b.stats().memory_bytes
        for i, blk in enumerate(blocks):
            b.add_block(blk, i * BS)
        after = b.stats().memory_bytes
    # The slot array alone must have doubled from its initial 1024 slots twice.
    assert after - before >= 3 * 1024 * 16


def test_block_table() -> None:
    blocks, _ = T.blocks(many_flows(30, per_flow=20), BS)
    empty, _ = T.block([], BS)
    with IndexBuilder(BS) as b:
        b.add_block(blocks[0], 0)
        b.add_block(empty, 3 * BS)  # gaps are fine, empty blocks are recorded
        b.add_block(blocks[1], 5 * BS)
        ix = IndexFile.from_bytes(b.serialize(6 * BS))
    ix.verify()
    assert [(blk.index, blk.packets == 0) for blk in ix.blocks] == [
        (0, False),
        (3, True),
        (5, False),
    ]
    assert ix.blocks[1].first_ns == ix.blocks[1].last_ns == 0
    assert ix.header.first_ns == ix.blocks[0].first_ns
    assert ix.header.last_ns == ix.blocks[2].last_ns
    assert ix.header.packet_file_size == 6 * BS


@pytest.mark.parametrize(
    ("offset", "why"),
    [
        (BS + 8, "not a multiple"),
        (0, "backwards"),
        (BS, "same offset"),
        ((1 << 32) - BS + BS, "4 GiB"),
    ],
)
def test_bad_offsets_are_refused(offset: int, why: str) -> None:
    blocks, _ = T.blocks(many_flows(2), BS)
    with IndexBuilder(BS) as b:
        b.add_block(blocks[0], BS)
        with pytest.raises(OSError, match="offset") as e:
            b.add_block(blocks[0], offset)
        assert e.value.errno == errno.ERANGE, why
        assert b.stats().blocks == 1


def test_last_block_below_4_gib_is_accepted() -> None:
    blocks, _ = T.blocks(many_flows(2), BS)
    with IndexBuilder(BS) as b:
        b.add_block(blocks[0], (1 << 32) - BS)
        ix = IndexFile.from_bytes(b.serialize(1 << 32))
    assert max(max(f) for f in ix.all_flows()) < 1 << 32


def test_bad_blocks_are_refused_and_add_nothing() -> None:
    good, _ = T.block([pkt(tcp4("10.0.0.1", "10.0.0.2", 1, 2))] * 3, BS)
    broken = bytearray(good)
    broken[48:52] = (1 << 20).to_bytes(4, "little")  # first packet's next offset leaves the block
    with IndexBuilder(BS) as b:
        with pytest.raises(OSError, match="indexing the block") as e:
            b.add_block(bytes(BS), 0)
        assert e.value.errno == errno.EINVAL
        with pytest.raises(OSError, match="indexing the block") as e:
            b.add_block(bytes(broken), 0)
        assert e.value.errno == errno.EBADMSG
        assert b.stats().packets == 0
        b.add_block(good, 0)  # the refused offset is still free
        assert b.stats().packets == 3
        with pytest.raises(ValueError, match="block of 10 bytes"):
            b.add_block(b"x" * 10, BS)


def test_serialize_refuses_a_file_size_before_the_last_block() -> None:
    blocks, _ = T.blocks(many_flows(2), BS)
    with IndexBuilder(BS) as b:
        b.add_block(blocks[0], BS)
        with pytest.raises(OSError, match="serializing") as e:
            b.serialize(BS)
        assert e.value.errno == errno.ERANGE


def test_closed_and_concurrent_use() -> None:
    b = IndexBuilder(BS)
    blocks, _ = T.blocks(many_flows(2), BS)
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with b._guard():
            entered.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    entered.wait(5)
    try:
        with pytest.raises(RuntimeError, match="already in use"):
            b.add_block(blocks[0], 0)
    finally:
        release.set()
        t.join()
    b.add_block(blocks[0], 0)
    b.close()
    b.close()
    with pytest.raises(ValueError, match="closed"):
        b.stats()


def test_builder_rejects_tiny_block_size() -> None:
    with pytest.raises(OSError, match="builder_new") as e:
        IndexBuilder(16)
    assert e.value.errno == errno.EINVAL


def test_frames_with_no_keys_form_a_flow() -> None:
    packets = [pkt(b"\x00" * 10, i) for i in range(3)] + [pkt(tcp4("1.1.1.1", "2.2.2.2", 1, 2), 3)]
    ix, positions, _ = index_of(packets)
    assert ix.header.flow_count == 2
    assert ix.positions_for_flow(0) == tuple(positions[:3])
    assert ix.key_map() == expected_map(packets, positions)


# -- property: random key sets in, exactly them out ----------------------------------


@st.composite
def key_sets(draw: st.DrawFn) -> T.Packet:
    """A frame built from a drawn key set (so expectations come from the drawing)."""
    vlans = draw(st.lists(st.integers(0, 4095), max_size=3))
    labels = draw(st.lists(st.integers(0, (1 << 20) - 1), max_size=3))
    v6 = draw(st.booleans())
    proto = draw(st.sampled_from([6, 17, 132, 1, 58]))
    sport, dport = draw(st.integers(0, 65535)), draw(st.integers(0, 65535))
    stripped = draw(st.none() | st.integers(0, 4095))
    frame = F.ethernet(F.ETH_8021Q if vlans else (F.ETH_MPLS if labels else 0))
    for i, v in enumerate(vlans):
        last = i + 1 == len(vlans)
        frame += F.vlan(v, F.ETH_8021Q if not last else (F.ETH_MPLS if labels else 0))
    l4 = F.ports_only(sport, dport)
    if v6:
        a = draw(st.sampled_from(["2001:db8::1", "2001:db8::2", "fe80::1"]))
        b = draw(st.sampled_from(["2001:db8::1", "ff02::2"]))
        ip = F.ipv6(a, b, proto, l4)
    else:
        a = draw(st.sampled_from(["10.0.0.1", "10.0.0.2", "192.168.1.1"]))
        b = draw(st.sampled_from(["10.0.0.2", "8.8.8.8"]))
        ip = F.ipv4(a, b, proto, l4)
    if labels:
        frame += F.mpls(labels) + ip
    else:
        frame += ip
    fixed = bytearray(frame)
    after_tags = 12 + 4 * len(vlans)
    if not labels:
        fixed[after_tags : after_tags + 2] = (F.ETH_IPV6 if v6 else F.ETH_IPV4).to_bytes(2, "big")
    return T.Packet(
        frame=bytes(fixed),
        nsec=draw(st.integers(0, 999_999_999)),
        status=0x10 if stripped is not None else 0,
        vlan_tci=stripped or 0,
    )


def drawn_keys(p: T.Packet) -> set[tuple[int, bytes]]:
    """The keys a drawn frame must be under, decoded from the frame by hand."""
    f = p.frame
    keys: set[tuple[int, bytes]] = set()
    if p.status:
        keys.add((KEY_VLAN, encode_key(KEY_VLAN, p.vlan_tci & 0xFFF)))
    at = 12
    etype = int.from_bytes(f[at : at + 2], "big")
    at += 2
    while etype == F.ETH_8021Q:
        keys.add((KEY_VLAN, encode_key(KEY_VLAN, int.from_bytes(f[at : at + 2], "big") & 0xFFF)))
        etype = int.from_bytes(f[at + 2 : at + 4], "big")
        at += 4
    if etype == F.ETH_MPLS:
        while True:
            entry = int.from_bytes(f[at : at + 4], "big")
            keys.add((KEY_MPLS, encode_key(KEY_MPLS, entry >> 12)))
            at += 4
            if entry & 0x100:
                break
    if f[at] >> 4 == 6:
        proto, hdr = f[at + 6], 40
        keys |= {(KEY_IPV6, f[at + 8 : at + 24]), (KEY_IPV6, f[at + 24 : at + 40])}
    else:
        proto, hdr = f[at + 9], 20
        keys |= {(KEY_IPV4, f[at + 12 : at + 16]), (KEY_IPV4, f[at + 16 : at + 20])}
    keys.add((KEY_PROTO, bytes([proto])))
    if proto in (6, 17, 132):
        keys.add((KEY_PORT, f[at + hdr : at + hdr + 2]))
        keys.add((KEY_PORT, f[at + hdr + 2 : at + hdr + 4]))
    return keys


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flows=st.lists(key_sets(), min_size=1, max_size=12),
    picks=st.lists(st.integers(0, 1000), min_size=1, max_size=300),
    block_size=st.sampled_from([4096, 1 << 14]),
    collide=st.booleans(),
)
def test_random_key_sets_come_back_exactly(
    flows: list[T.Packet], picks: list[int], block_size: int, collide: bool
) -> None:
    packets = [flows[i % len(flows)] for i in picks]
    blocks, positions = T.blocks(packets, block_size)
    data, b = build(blocks, block_size=block_size, collide=collide)
    b.close()
    ix = IndexFile.from_bytes(data)
    ix.verify()
    want: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    for p, pos in zip(packets, positions, strict=True):
        for key in drawn_keys(p):
            want[key].append(pos)
    assert ix.key_map() == {k: tuple(v) for k, v in want.items()}
    distinct = {frozenset(drawn_keys(p)) for p in packets}
    assert ix.header.flow_count == len(distinct)
    # The C walk agrees with the hand decoding, too.
    for p in flows:
        k = frame_keys(p.frame, tp_status=p.status, vlan_tci=p.vlan_tci)
        assert {(KEY_PORT, encode_key(KEY_PORT, x)) for x in k.ports} == {
            key for key in drawn_keys(p) if key[0] == KEY_PORT
        }


def test_ipv4_range_lookup() -> None:
    frames = [tcp4(f"10.0.{i}.1", "192.0.2.9", 1000 + i, 22) for i in range(10)]
    packets = [pkt(f, i) for i, f in enumerate(frames)]
    ix, positions, _ = index_of(packets)
    lo = ipaddress.IPv4Address("10.0.2.0").packed
    hi = ipaddress.IPv4Address("10.0.5.255").packed
    assert ix.positions_for_key_range(KEY_IPV4, lo, hi) == tuple(positions[2:6])
    everything = ix.positions_for_key_range(KEY_IPV4, bytes(4), b"\xff" * 4)
    assert everything == tuple(positions)
    assert list(itertools.chain.from_iterable(ix.all_flows())) == positions


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _heap_in_use() -> int:
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return int(info.uordblks) + int(info.hblkhd)


def test_memory_bytes_matches_the_heap() -> None:
    """memory_bytes is what the capture side budgets with: it must be the truth."""
    blocks, _ = T.blocks(many_flows(20_000, per_flow=3), BS)
    gc.collect()
    before = _heap_in_use()
    b = IndexBuilder(BS)
    for i, blk in enumerate(blocks):
        b.add_block(blk, i * BS)
    reported = b.stats().memory_bytes
    gc.collect()
    grown = _heap_in_use() - before
    b.close()
    assert reported > 1_000_000
    assert abs(grown - reported) < 0.05 * reported + 64 * 1024, (grown, reported)
