"""The captured upstream store in tests/data/upstream (real bytes written by
Debian's stenotype, see its make.py): read without running upstream."""

from __future__ import annotations

import json
from array import array
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from steno.lab.pcap import read_pcap
from steno.lab.truth import FrameTruth, Key, KeyType
from steno.store.naming import ThreadDirs
from steno.store.packet_file import PacketFile
from steno.store.upstream_index import UpstreamIndex, UpstreamKeyType, encode_value
from tests.lab.contract_parser import keys_of
from tests.lab.upstream_contract import expected_index, upstream_keys_of
from tests.lab.upstream_run import stored_packets

DATA = Path(__file__).resolve().parent.parent / "data" / "upstream"
DIRS = ThreadDirs.under(DATA, 0)


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / "truth.json").read_text())
    return doc


def parse_keys(obj: dict[str, list[str | int]]) -> frozenset[Key]:
    """The keys of truth.json's {"ipv4": ["198.18.0.1", ...], "port": [80], ...}."""
    keys: set[Key] = set()
    for name, values in obj.items():
        kind = KeyType[name.upper()]
        for v in values:
            keys.add((kind, int(ip_address(v)) if isinstance(v, str) else v))
    return frozenset(keys)


def test_the_store_is_what_truth_json_says(truth: dict[str, Any]) -> None:
    name = truth["file"]
    packets = list(stored_packets(DIRS.packet_path(name), block_size=truth["block_size"]))
    rows = truth["packets"]
    assert len(packets) == len(rows) == truth["generator"]["count"]
    assert sorted(r["seq"] for r in rows) == list(range(len(rows)))
    for p, row in zip(packets, rows, strict=True):
        assert (p.position, len(p.frame), p.wire_len) == (
            row["position"],
            row["caplen"],
            row["tp_len"],
        )
        tag = row["outer_tag"]
        assert p.stripped_tci == (None if tag is None else tag["tci"])
        # Both key sets are what the two contracts' readers of bytes say.
        assert upstream_keys_of(p.frame) == parse_keys(row["upstream_keys"])
        assert keys_of(p.frame, p.stripped_tci) == parse_keys(row["keys"])
        assert FrameTruth(keys=parse_keys(row["keys"])).keys_json() == row["keys"]


def test_the_index_lists_every_packet_under_its_upstream_keys(truth: dict[str, Any]) -> None:
    rows = truth["packets"]
    want = expected_index((r["position"], parse_keys(r["upstream_keys"])) for r in rows)
    with UpstreamIndex.open(DIRS.index_path(truth["file"])) as idx:
        assert idx.version == (2, 0)
        summary = idx.check()
        got = {k: list(idx.positions(k[0], k[1:])) for k, _ in idx.all_items() if k[0]}
        assert got == want
        assert summary.positions == sum(len(v) for v in want.values())
        # A query-shaped look-up: every packet of 198.18.0.0/15 (all IPv4 here).
        v4 = idx.positions_in_range(
            UpstreamKeyType.IPV4,
            encode_value(UpstreamKeyType.IPV4, 0xC6120000),
            encode_value(UpstreamKeyType.IPV4, 0xC613FFFF),
        )
        assert list(v4) == [r["position"] for r in rows if "ipv4" in r["upstream_keys"]]
        tcp = idx.positions(UpstreamKeyType.PROTO, b"\x06")
        assert list(tcp) == [
            r["position"] for r in rows if 6 in r["upstream_keys"].get("proto", [])
        ]


def test_the_empty_file_and_its_index(truth: dict[str, Any]) -> None:
    empty = truth["empty_file"]
    assert DIRS.packet_path(empty).stat().st_size == 0
    with PacketFile(DIRS.packet_path(empty)) as pf:
        assert pf.count_packets() == 0
    with UpstreamIndex.open(DIRS.index_path(empty)) as idx:
        assert list(idx.all_items()) == [(b"\x00", bytes.fromhex("0000000200000000"))]
        assert idx.size == 105


def test_positions_select_the_right_packets(truth: dict[str, Any], tmp_path: Path) -> None:
    """Positions from the index fed to the packet file reader export exactly
    those packets (what a query does)."""
    name = truth["file"]
    with UpstreamIndex.open(DIRS.index_path(name)) as idx:
        udp = idx.positions(UpstreamKeyType.PROTO, b"\x11")
    out = tmp_path / "udp.pcap"
    with PacketFile(DIRS.packet_path(name)) as pf, open(out, "wb") as f:
        assert pf.export_pcap(f, positions=array("Q", udp)) == len(udp)
    _, records = read_pcap(out)
    by_position = {p.position: p for p in stored_packets(DIRS.packet_path(name))}
    for rec, pos in zip(records, udp, strict=True):
        packet = by_position[pos]
        # export_pcap puts the stripped outer tag back, as on the wire.
        if packet.stripped_tci is None:
            assert rec.data == packet.frame
        else:
            assert rec.data[:12] + rec.data[16:] == packet.frame
