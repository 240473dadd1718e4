"""Queries answered from a real capture, against an answer key no query code computed.

Two batches of generated traffic (IPv4/IPv6, TCP/UDP/SCTP/ICMP, VLAN, QinQ,
MPLS, fragments, jumbo frames), a second apart, are captured by stenotype with
two threads.  The answer key is the generator's ground truth for every packet
plus the packet's capture time as exported from the packet files.  Each query
runs through the real ``stenoquery`` command; its pcap must hold exactly the
expected packets, in time order, and tcpdump must read it.
"""

from __future__ import annotations

import collections
import io
import ipaddress
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from steno.lab.answer_key import matches
from steno.lab.generator import Traffic, generate
from steno.lab.netns import Lab
from steno.lab.pcap import iter_pcap, read_pcap
from steno.lab.stenotype_run import BLOCK_SIZE, SMALL, Stenotype, names
from steno.lab.truth import Key, KeyType
from steno.query import parse
from steno.query.times import format_rfc3339
from steno.store.packet_file import PacketFile

pytestmark = pytest.mark.lab


@attrs.frozen
class Packet:
    ts_ns: int
    data: bytes
    keys: frozenset[Key]


@attrs.frozen
class Store:
    base: Path
    packets: tuple[Packet, ...]
    """Every stored packet, ordered by capture time."""


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    first = generate(seed=31, count=3000, profile="mixed")
    second = generate(seed=32, count=3000, profile="mixed")
    truth = _truth(first) | _truth(second)
    with Lab() as lab:
        steno = Stenotype(lab, lab.tmpdir / "store", "--threads=2", *SMALL).start()
        lab.send((first.data, first.offsets), rate=20_000)
        time.sleep(1.2)
        lab.send((second.data, second.offsets), rate=20_000)
        time.sleep(1.6)
        assert steno.stop() == 0, steno.log()
        packets = []
        for thread in (0, 1):
            dirs = steno.dirs(thread)
            for name in names(dirs.packets)[0]:
                buf = io.BytesIO()
                with PacketFile(dirs.packet_path(name), block_size=BLOCK_SIZE) as pf:
                    pf.export_pcap(buf, nano=True)
                buf.seek(0)
                for rec in iter_pcap(buf)[1]:
                    packets.append(Packet(rec.ts_ns, rec.data, truth[rec.data]))
        assert len(packets) == len(first) + len(second)
        packets.sort(key=lambda p: p.ts_ns)
        yield Store(steno.base, tuple(packets))


def _truth(traffic: Traffic) -> dict[bytes, frozenset[Key]]:
    return {traffic.frame(i): traffic.keys(i) for i in range(len(traffic))}


def _popular(store: Store, kind: KeyType, rank: int = 0) -> int:
    counts = collections.Counter(v for p in store.packets for k, v in p.keys if k is kind)
    return counts.most_common()[min(rank, len(counts) - 1)][0]


def _rare(store: Store, kind: KeyType) -> int:
    counts = collections.Counter(v for p in store.packets for k, v in p.keys if k is kind)
    return min(counts, key=lambda v: (counts[v], v))


def _t(ns: int) -> str:
    return format_rfc3339(ns)


def queries(store: Store) -> list[str]:
    """At least forty queries: every primitive, both families, nesting, time
    bounds at packet granularity, empty answers."""
    v4 = ipaddress.IPv4Address(_popular(store, KeyType.IPV4))
    v4b = ipaddress.IPv4Address(_popular(store, KeyType.IPV4, 5))
    v4rare = ipaddress.IPv4Address(_rare(store, KeyType.IPV4))
    v6 = ipaddress.IPv6Address(_popular(store, KeyType.IPV6))
    v6b = ipaddress.IPv6Address(_popular(store, KeyType.IPV6, 3))
    port = _popular(store, KeyType.PORT)
    port2 = _popular(store, KeyType.PORT, 2)
    rare_port = _rare(store, KeyType.PORT)
    vlan = _popular(store, KeyType.VLAN)
    vlan2 = _popular(store, KeyType.VLAN, 4)
    label = _popular(store, KeyType.MPLS)
    ts = [p.ts_ns for p in store.packets]
    middle = ts[len(ts) // 2 + 101]  # inside the second batch, not at its start
    gap = max(range(1, len(ts)), key=lambda i: ts[i] - ts[i - 1])  # between the batches
    quarter, three_quarters = ts[len(ts) // 4], ts[3 * len(ts) // 4]
    net24 = ipaddress.IPv4Network(f"{v4}/24", strict=False)
    net16 = ipaddress.IPv4Network(f"{v4}/16", strict=False)
    net64 = ipaddress.IPv6Network(f"{v6}/64", strict=False)
    net48 = ipaddress.IPv6Network(f"{v6}/48", strict=False)
    return [
        f"host {v4}",
        f"host {v4rare}",
        f"host {v6}",
        f"host {v6b}",
        f"net {net24}",
        f"net {net16}",
        "net 198.18.0.0/15",
        "net 0.0.0.0/0",
        f"net {net24.network_address} mask 255.255.255.0",
        f"net {net64}",
        f"net {net48}",
        "net 2001:db8::/32",
        f"net {net48.network_address} mask ffff:ffff:ffff::",
        f"port {port}",
        f"port {port2}",
        f"port {rare_port}",
        "port 53",
        "tcp",
        "udp",
        "icmp",
        "ip proto 58",
        "ip proto 132",
        f"vlan {vlan}",
        f"vlan {vlan2}",
        f"mpls {label}",
        f"host {v4} and port {port}",
        f"host {v4} or host {v6}",
        f"host {v4} or host {v4b} or host {v6b}",
        f"tcp and port {port}",
        "udp and port 53 or tcp and port 443",
        "(udp and port 53) or (tcp and port 443)",
        f"(port {port} or (host {v4b} and tcp)) or vlan {vlan}",
        f"vlan {vlan} and (tcp or udp)",
        f"mpls {label} and (icmp or udp or tcp)",
        f"after {_t(middle)}",
        f"before {_t(middle)}",
        f"after {_t(quarter)} and before {_t(three_quarters)}",
        f"after {_t(ts[gap])}",
        f"before {_t(ts[gap])} and net 2001:db8::/32",
        f"before {_t(three_quarters)} and after {_t(quarter)} and host {v4} and port {port}",
        f"(port {port} and after {_t(middle)}) or (host {v6} and before {_t(middle)})",
        f"tcp or after {_t(three_quarters)}",
        "after 10m ago",
        "before 10m ago",
        "host 198.19.255.254",
        "tcp and udp",
        f"after {_t(middle)} and before {_t(quarter)}",
        f"port {port} and port {rare_port} and host 2001:db8:ffff::1",
    ]


def expected(store: Store, query: str, now: datetime) -> list[Packet]:
    node = parse(query, now=now)
    return [p for p in store.packets if matches(node, p.keys, p.ts_ns)]


def stenoquery(store: Store, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "steno.cli.stenoquery", "--dir", str(store.base), *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_there_are_at_least_forty_queries(store: Store) -> None:
    qs = queries(store)
    assert len(qs) >= 40
    assert len(set(qs)) == len(qs)


@pytest.mark.parametrize("i", range(48))
def test_query_returns_exactly_the_expected_packets(store: Store, i: int, tmp_path: Path) -> None:
    query = queries(store)[i]
    now = datetime.now(UTC)
    want = expected(store, query, now)
    proc = stenoquery(store, "--nano", "-w", str(tmp_path / "out.pcap"), query)
    assert proc.returncode == 0, proc.stderr.decode()
    _, records = read_pcap(tmp_path / "out.pcap")
    got = [(r.ts_ns, r.data) for r in records]
    assert collections.Counter(got) == collections.Counter((p.ts_ns, p.data) for p in want), query
    assert [t for t, _ in got] == sorted(t for t, _ in got), "not in time order"
    # An oracle no one here wrote reads the same answer.
    out = subprocess.run(
        ["tcpdump", "-r", str(tmp_path / "out.pcap"), "-nn", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == len(want)


def test_microsecond_pcap_by_default_and_limits(store: Store) -> None:
    proc = stenoquery(store, "--limit-packets", "7", "tcp")
    assert proc.returncode == 0
    header = proc.stdout[:4]
    assert header == bytes.fromhex("d4c3b2a1")  # upstream's microsecond pcap
    records = _records(proc.stdout)
    assert len(records) == 7
    want = expected(store, "tcp", datetime.now(UTC))[:7]
    assert [r for _, r in records] == [p.data for p in want]
    # Bytes as upstream counts them: 16 for the file header, 16 + caplen per packet.
    budget = 16 + sum(16 + len(p.data) for p in want[:3])
    proc = stenoquery(store, "--limit-bytes", str(budget), "tcp")
    assert len(_records(proc.stdout)) == 3
    proc = stenoquery(store, "--limit-bytes", str(budget + 1), "tcp")
    assert len(_records(proc.stdout)) == 4
    proc = stenoquery(store, "--limit-bytes", "16", "tcp")
    assert proc.stdout[24:] == b""


def _records(data: bytes) -> list[tuple[int, bytes]]:
    _, records = iter_pcap(io.BytesIO(data))
    return [(r.ts_ns, r.data) for r in records]


def test_a_bad_query_is_an_error_at_its_token(store: Store) -> None:
    proc = stenoquery(store, "tcp AND udp")
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert b"at character 4" in proc.stderr
    proc = stenoquery(store, "port 8080,8081")
    assert proc.returncode == 2 and b'invalid port "8080,8081" at character 5' in proc.stderr


def test_a_corrupt_index_is_skipped_named_and_the_rest_answered(
    store: Store, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(store.base, copy)
    victim = sorted((copy / "IDX0").iterdir())[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    proc = subprocess.run(
        [sys.executable, "-m", "steno.cli.stenoquery", "--dir", str(copy), "after 10m ago"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3
    assert str(victim).encode() in proc.stderr
    assert b"checksum" in proc.stderr
    got = _records(proc.stdout)
    assert 0 < len(got) < len(store.packets)
    assert {d for _, d in got} <= {p.data for p in store.packets}


def test_pcapng_and_nanosecond_pcap_carry_the_same_packets(store: Store, tmp_path: Path) -> None:
    query = "udp or vlan 1"
    ns = stenoquery(store, "--format", "pcap-ns", query)
    ng = stenoquery(store, "--format", "pcapng", "-w", str(tmp_path / "out.pcapng"), query)
    assert ns.returncode == 0 and ng.returncode == 0
    assert (tmp_path / "out.pcapng").read_bytes()[:4] == bytes.fromhex("0a0d0d0a")
    fields = subprocess.run(
        [
            "tshark",
            "-r",
            str(tmp_path / "out.pcapng"),
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.cap_len",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    from decimal import Decimal

    got = [(int(Decimal(fields[i]) * 10**9), int(fields[i + 1])) for i in range(0, len(fields), 2)]
    want = [(t, len(d)) for t, d in _records(ns.stdout)]
    assert got == want and want
