"""Querying a store written by upstream Stenographer (Debian's stenotype 1.0.1).

``tests/data/upstream`` holds real upstream files (a packet file of one 1 MiB
block and its LevelDB index, plus an empty pair) and, per packet, the keys
upstream indexed (``upstream_keys``, checked against the index itself when
the data was made).  On upstream's files, answers follow upstream's keys: a
user switching to steno gets from old data what upstream's server gave."""

from __future__ import annotations

import collections
import io
import ipaddress
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from steno.lab.answer_key import matches
from steno.lab.pcap import iter_pcap
from steno.lab.truth import Key, KeyType
from steno.query import parse
from steno.query.times import format_rfc3339
from steno.store.packet_file import PacketFile

DATA = Path(__file__).parent.parent / "data" / "upstream"
_TYPES = {
    "proto": KeyType.PROTO,
    "port": KeyType.PORT,
    "vlan": KeyType.VLAN,
    "ipv4": KeyType.IPV4,
    "mpls": KeyType.MPLS,
    "ipv6": KeyType.IPV6,
}


def _key_value(kind: KeyType, value: int | str) -> int:
    if kind in (KeyType.IPV4, KeyType.IPV6):
        return int(ipaddress.ip_address(str(value)))
    return int(value)


def upstream_packets() -> list[tuple[int, bytes, frozenset[Key]]]:
    truth = json.loads((DATA / "truth.json").read_text())
    by_position = {}
    for p in truth["packets"]:
        keys = frozenset(
            (_TYPES[name], _key_value(_TYPES[name], v))
            for name, values in p["upstream_keys"].items()
            for v in values
        )
        by_position[p["position"]] = keys
    with PacketFile(DATA / "PKT0" / truth["file"], block_size=truth["block_size"]) as pf:
        buf = io.BytesIO()
        pf.export_pcap(buf, nano=True)
    buf.seek(0)
    records = list(iter_pcap(buf)[1])
    positions = sorted(by_position)
    assert len(records) == len(positions)
    return [(r.ts_ns, r.data, by_position[pos]) for r, pos in zip(records, positions, strict=True)]


def _asked_and_expected(
    store: Path, query: str, packets: list[tuple[int, bytes, frozenset[Key]]]
) -> tuple[collections.Counter[bytes], collections.Counter[bytes]]:
    """The frames ``stenoquery --dir`` answers, and those upstream's keys say it should."""
    from datetime import UTC, datetime

    node = parse(query, now=datetime.now(UTC))
    want = collections.Counter(d for ts, d, keys in packets if matches(node, keys, ts))
    proc = subprocess.run(
        [sys.executable, "-m", "steno.cli.stenoquery", "--dir", str(store), query],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return collections.Counter(r.data for r in iter_pcap(io.BytesIO(proc.stdout))[1]), want


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("upstream")
    shutil.copytree(DATA / "PKT0", base / "PKT0")
    shutil.copytree(DATA / "IDX0", base / "IDX0")
    return base


QUERIES = [
    "tcp",
    "udp",
    "ip proto 58",
    "port 53",
    "net 198.18.0.0/15",
    "net 2001:db8::/32",
    "udp and port 53",
    "tcp or icmp",
]


@pytest.mark.parametrize("query", QUERIES)
def test_upstream_store_answers_with_upstreams_keys(store: Path, query: str) -> None:
    got, want = _asked_and_expected(store, query, upstream_packets())
    assert got == want
    assert sum(want.values()) > 0 or query == "tcp or icmp"


def test_a_host_and_a_vlan_from_the_data(store: Path) -> None:
    packets = upstream_packets()
    host = next(v for _, _, keys in packets for k, v in keys if k is KeyType.IPV4)
    vlan = next(v for _, _, keys in packets for k, v in keys if k is KeyType.VLAN)
    for query in (f"host {ipaddress.IPv4Address(host)}", f"vlan {vlan}"):
        got, want = _asked_and_expected(store, query, packets)
        assert got == want and got


def test_time_windows_read_upstreams_blocks_without_its_index(store: Path) -> None:
    """A query with only a time condition walks upstream's blocks (found by
    their descriptors, with slack) and keeps each packet by its own time."""
    packets = upstream_packets()
    times = sorted(ts for ts, _, _ in packets)
    cuts = [times[len(times) // 3], times[len(times) // 2] + 1, times[-1] + 1]
    after_the_last = f"after {format_rfc3339(cuts[2])}"
    queries = [
        f"after {format_rfc3339(cuts[0])} and before {format_rfc3339(cuts[1])}",
        f"before {format_rfc3339(cuts[0])}",
        f"after {format_rfc3339(cuts[1])}",
        after_the_last,
        "after 2000-01-01T00:00:00Z",
    ]
    for query in queries:
        got, want = _asked_and_expected(store, query, packets)
        assert got == want, query
        assert got or query == after_the_last
