"""How fast the index builder runs and how big its files are, on synthetic IMIX traffic.

Run: ``python -m bench.index_build [--packets N] [--mean-flow-packets M]``.

The traffic model (``synthetic_imix``) is meant to look like an edge link, not
to flatter the index: packet sizes follow simple IMIX (7:4:1 of 64, 594 and
1518 bytes); flows start uniformly over the file's time span; a third of them
are DNS-like (one query, one answer, UDP 53); the rest are TCP or UDP
conversations with a heavy-tailed (Pareto) packet count and a log-normal
duration, both directions interleaved; clients and ephemeral ports are drawn
uniformly, servers by popularity (Zipf), 20% of flows are IPv6 and 30% carry
a VLAN tag (half stripped by the kernel into tp_vlan_tci, half in the frame).
Everything is seeded, so a run is repeatable.

What it reports: ns per packet for ``add_block`` (the capture-path cost,
including flow-table growth), ``serialize`` time, and index bytes per packet
and as a percentage of the packet file.
"""

from __future__ import annotations

import argparse
import heapq
import ipaddress
import random
import struct
import time
from collections.abc import Iterator

import attrs

from steno.native.index import IndexBuilder

BLOCK_SIZE = 1 << 20
BLOCK_DESC_LEN = 48
TP_MAC = 82
IMIX = ((64, 7), (594, 4), (1518, 1))


@attrs.frozen(kw_only=True)
class Traffic:
    blocks: tuple[bytes, ...]
    packets: int
    flows: int
    file_size: int


def _ethernet(ethertype: int, vlan: int | None) -> bytes:
    macs = bytes.fromhex("020000000002020000000001")
    if vlan is None:
        return macs + struct.pack("!H", ethertype)
    return macs + struct.pack("!HHH", 0x8100, vlan, ethertype)


def _headers(
    rng: random.Random, v6: bool, proto: int, a: bytes, b: bytes, pa: int, pb: int, vlan: int | None
) -> tuple[bytes, bytes]:
    """The frame headers of one flow in each direction."""

    def one(src: bytes, dst: bytes, sp: int, dp: int) -> bytes:
        l4 = struct.pack("!HH", sp, dp) + bytes(16 if proto == 6 else 4)
        if v6:
            ip = struct.pack("!IHBB", 6 << 28, len(l4), proto, 64) + src + dst
            return _ethernet(0x86DD, vlan) + ip + l4
        ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0) + src + dst
        return _ethernet(0x0800, vlan) + ip + l4

    return one(a, b, pa, pb), one(b, a, pb, pa)


def _addr(v6: bool, n: int, net: int) -> bytes:
    if v6:
        return ipaddress.IPv6Address((0x20010DB8 << 96) | (net << 64) | n).packed
    return ipaddress.IPv4Address((10 << 24) | (net << 16) | n).packed


def _flow_packets(
    rng: random.Random, span_ns: int, mean_packets: float
) -> Iterator[tuple[int, bool, int]]:
    """(time, forward?, frame size) for one flow's packets."""
    start = rng.randrange(span_ns)
    if rng.random() < 1 / 3:
        yield start, True, 80
        yield start + rng.randrange(200_000, 30_000_000), False, 200
        return
    # Pareto with shape 1.3 scaled so that the mean is about mean_packets.
    shape = 1.3
    xm = mean_packets * (shape - 1) / shape
    n = max(3, min(200_000, int(xm * rng.paretovariate(shape))))
    duration = min(span_ns, int(rng.lognormvariate(20.5, 2.0)))  # median ~0.8 s
    sizes, weights = zip(*IMIX, strict=True)
    for _ in range(n):
        t = start + rng.randrange(duration + 1)
        yield t, rng.random() < 0.5, rng.choices(sizes, weights)[0]


def synthetic_imix(
    packets: int, *, mean_flow_packets: float = 30.0, span_s: float = 60.0, seed: int = 1
) -> Traffic:
    """About ``packets`` packets of synthetic IMIX traffic laid out in 1 MiB blocks."""
    rng = random.Random(seed)
    span_ns = int(span_s * 1e9)
    servers_v4 = [_addr(False, rng.randrange(1, 65000), 200) for _ in range(500)]
    servers_v6 = [_addr(True, rng.randrange(1, 65000), 200) for _ in range(200)]
    ports = [443] * 60 + [80] * 20 + [22, 25, 123, 5000, 8080, 8443] * 3
    events: list[tuple[int, int, bool, int]] = []  # time, flow, forward, size
    flow_headers: list[tuple[bytes, bytes, int, int]] = []
    total = 0
    while total < packets:
        v6 = rng.random() < 0.2
        dns = rng.random() < 1 / 3
        client = _addr(v6, rng.randrange(1, 4000), 1)
        pool = servers_v6 if v6 else servers_v4
        server = pool[min(int(rng.paretovariate(1.1)) - 1, len(pool) - 1)]
        proto = 17 if dns or rng.random() < 0.1 else 6
        sport = 53 if dns else rng.choice(ports)
        vlan_kind = rng.random()
        vlan = rng.randrange(10, 20) if vlan_kind < 0.3 else None
        stripped = vlan is not None and vlan_kind < 0.15
        fwd, rev = _headers(
            rng,
            v6,
            proto,
            client,
            server,
            rng.randrange(32768, 61000),
            sport,
            None if stripped else vlan,
        )
        flow = len(flow_headers)
        flow_headers.append((fwd, rev, 0x10 if stripped else 0, vlan or 0))
        mean = 2 if dns else mean_flow_packets
        for t, forward, size in _flow_packets(rng, span_ns, mean):
            events.append((t, flow, forward, size))
            total += 1
            if dns and total >= packets:
                break
    heapq.heapify(events)
    ordered = [heapq.heappop(events) for _ in range(len(events))]

    blocks: list[bytes] = []
    buf = bytearray(BLOCK_SIZE)
    off = BLOCK_DESC_LEN
    count = 0
    last_hdr = -1
    base = 1_700_000_000 * 1_000_000_000

    def finish() -> None:
        nonlocal buf, off, count, last_hdr
        if last_hdr >= 0:
            struct.pack_into("<I", buf, last_hdr, 0)
        struct.pack_into("<IIIIIIQ", buf, 0, 2, 48, 1, count, 48, off, len(blocks) + 1)
        blocks.append(bytes(buf))
        buf = bytearray(BLOCK_SIZE)
        off, count, last_hdr = BLOCK_DESC_LEN, 0, -1

    for t, flow, forward, size in ordered:
        fwd, rev, status, tci = flow_headers[flow]
        hdr = fwd if forward else rev
        size = max(size, len(hdr))
        rec = (TP_MAC + size + 7) & ~7
        if off + rec > BLOCK_SIZE:
            finish()
        ns = base + t
        struct.pack_into(
            "<IIIIIIHHIIHH",
            buf,
            off,
            rec,
            ns // 10**9,
            ns % 10**9,
            size,
            size,
            1 | status,
            TP_MAC,
            TP_MAC + 14,
            0,
            tci,
            0x8100 if status else 0,
            0,
        )
        buf[off + TP_MAC : off + TP_MAC + len(hdr)] = hdr
        last_hdr = off
        off += rec
        count += 1
    finish()
    return Traffic(
        blocks=tuple(blocks),
        packets=len(ordered),
        flows=len(flow_headers),
        file_size=len(blocks) * BLOCK_SIZE,
    )


@attrs.frozen(kw_only=True)
class Result:
    packets: int
    flows: int
    add_ns_per_packet: float
    serialize_s: float
    index_bytes: int
    file_size: int
    memory_bytes: int

    @property
    def bytes_per_packet(self) -> float:
        return self.index_bytes / self.packets

    @property
    def percent_of_file(self) -> float:
        return 100 * self.index_bytes / self.file_size


def measure(traffic: Traffic, *, repeat: int = 3) -> Result:
    best_add = float("inf")
    best_ser = float("inf")
    data = b""
    memory = 0
    for _ in range(repeat):
        with IndexBuilder(BLOCK_SIZE) as b:
            t0 = time.perf_counter_ns()
            for i, blk in enumerate(traffic.blocks):
                b.add_block(blk, i * BLOCK_SIZE)
            t1 = time.perf_counter_ns()
            data = b.serialize(traffic.file_size)
            t2 = time.perf_counter_ns()
            memory = b.stats().memory_bytes
        best_add = min(best_add, (t1 - t0) / traffic.packets)
        best_ser = min(best_ser, (t2 - t1) / 1e9)
    return Result(
        packets=traffic.packets,
        flows=traffic.flows,
        add_ns_per_packet=best_add,
        serialize_s=best_ser,
        index_bytes=len(data),
        file_size=traffic.file_size,
        memory_bytes=memory,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--mean-flow-packets", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    t0 = time.perf_counter()
    traffic = synthetic_imix(args.packets, mean_flow_packets=args.mean_flow_packets, seed=args.seed)
    print(
        f"generated {traffic.packets} packets, {traffic.flows} flows, "
        f"{len(traffic.blocks)} blocks in {time.perf_counter() - t0:.1f} s"
    )
    r = measure(traffic)
    print(f"add_block: {r.add_ns_per_packet:.1f} ns/packet (best of 3)")
    print(f"serialize: {r.serialize_s * 1000:.1f} ms")
    print(
        f"index: {r.index_bytes} bytes = {r.bytes_per_packet:.2f} bytes/packet = "
        f"{r.percent_of_file:.3f}% of {r.file_size} packet-file bytes"
    )
    print(
        f"builder memory: {r.memory_bytes / 2**20:.1f} MiB "
        f"({r.memory_bytes / r.packets:.1f} bytes/packet)"
    )


if __name__ == "__main__":
    main()
