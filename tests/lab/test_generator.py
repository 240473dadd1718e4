"""The generator: deterministic, unique frames, profiles as promised, truth
that agrees with an independent byte-level reading of the contract and with
tshark."""

from __future__ import annotations

import collections
import io
import subprocess
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from steno.lab import frames as f
from steno.lab.generator import IMIX_SIZES, generate
from steno.lab.pcap import write_pcap_frames
from steno.lab.truth import KeyType, read_truth_jsonl, write_truth_jsonl
from tests.lab.contract_parser import keys_of


@pytest.mark.parametrize("profile", ["mixed", "imix", "small", "hostile"])
def test_same_seed_same_traffic(profile: str) -> None:
    a, b = generate(5, 1500, profile), generate(5, 1500, profile)
    assert a.data == b.data
    assert list(a.offsets) == list(b.offsets)
    assert [a.truth(i) for i in range(len(a))] == [b.truth(i) for i in range(len(b))]
    assert generate(6, 1500, profile).data != a.data


@pytest.mark.parametrize("profile", ["mixed", "imix", "small", "hostile"])
def test_frames_are_unique_and_counted(profile: str) -> None:
    t = generate(11, 4000, profile)
    assert len(t) == 4000
    assert len(set(t.frames())) == 4000


@pytest.mark.parametrize("profile", ["mixed", "imix", "small", "hostile"])
def test_truth_agrees_with_a_byte_level_reading_of_the_contract(profile: str) -> None:
    t = generate(21, 6000 if profile != "hostile" else 12000, profile)
    wrong = []
    for i in range(len(t)):
        frame, tag = t.captured(i)
        got = keys_of(frame, None if tag is None else tag.tci)
        if got != t.keys(i):
            wrong.append((i, t.truth(i).case, sorted(got ^ t.keys(i))))
    assert not wrong, wrong[:5]


def test_hostile_covers_its_catalogue() -> None:
    t = generate(3, 6000, "hostile")
    cases = collections.Counter(t.truth(i).case for i in range(len(t)))
    for name in (
        "truncated",
        "deep-tags",
        "deep-labels",
        "nested-pw",
        "ipv6-chain",
        "ipv4-lies",
        "tiny",
    ):
        assert cases[f"hostile/{name}"] > 50, cases
    vlans = max(len(t.truth(i).keys_of(KeyType.VLAN)) for i in range(len(t)))
    labels = max(len(t.truth(i).keys_of(KeyType.MPLS)) for i in range(len(t)))
    assert vlans == 17  # 16 tags walked plus the stripped one
    assert labels == 16
    assert min(len(fr) for fr in t.frames()) == 14


def test_imix_is_seven_four_one() -> None:
    t = generate(2, 1200, "imix")
    sizes = collections.Counter(len(fr) for fr in t.frames())
    assert sizes == {IMIX_SIZES[0]: 700, IMIX_SIZES[1]: 400, IMIX_SIZES[2]: 100}


def test_small_is_all_minimum_frames() -> None:
    t = generate(2, 1000, "small")
    assert {len(fr) for fr in t.frames()} == {60}


def test_mixed_has_what_it_promises() -> None:
    t = generate(8, 30000, "mixed")
    frames = list(t.frames())
    sizes = [len(fr) for fr in frames]
    assert min(sizes) == 60
    assert 9000 in sizes
    assert sum(1 for s in sizes if s > 1200) > 1000
    kinds = collections.Counter(t.truth(i).case for i in range(len(t)))
    for case in (
        "ipv4/tcp",
        "ipv6/tcp",
        "ipv4/udp",
        "ipv6/udp",
        "ipv4/icmp",
        "ipv6/icmpv6",
        "ipv4/sctp",
        "ipv4/udp-fragments",
        "ipv6/udp-fragments",
        "ipv4/dccp",
        "ipv4/udplite",
    ):
        assert kinds[case] > 20, (case, kinds)
    tpids = collections.Counter(int.from_bytes(fr[12:14], "big") for fr in frames)
    assert tpids[f.TPID_8021Q] > 1000
    assert tpids[f.TPID_8021AD] > 500
    assert tpids[f.TPID_QINQ_9100] > 50
    assert tpids[f.ETH_P_MPLS_UC] > 1000
    hosts4 = {v for i in range(len(t)) for v in t.truth(i).keys_of(KeyType.IPV4)}
    hosts6 = {v for i in range(len(t)) for v in t.truth(i).keys_of(KeyType.IPV6)}
    assert len(hosts4) > 1000
    assert len(hosts6) > 300
    net4 = (int(IPv4Address("198.18.0.0")), 15)
    assert all(h >> (32 - net4[1]) == net4[0] >> (32 - net4[1]) for h in hosts4)
    assert all(h >> 96 == int(IPv6Address("2001:db8::")) >> 96 for h in hosts6)
    # Both directions of conversations, many packets per flow.
    flows = collections.Counter(t.truth(i).flow for i in range(len(t)))
    assert max(flows.values()) > 300
    # Later fragments carry no ports; first ones do.
    frag = [t.truth(i) for i in range(len(t)) if t.truth(i).case.endswith("udp-fragments")]
    assert any(not x.keys_of(KeyType.PORT) for x in frag)
    assert any(x.keys_of(KeyType.PORT) for x in frag)


def test_truth_jsonl_round_trip() -> None:
    t = generate(4, 500, "mixed")
    buf = io.StringIO()
    assert write_truth_jsonl(buf, t.records()) == 500
    buf.seek(0)
    back = list(read_truth_jsonl(buf))
    assert [r.truth for r in back] == [t.truth(i) for i in range(500)]
    assert [r.length for r in back] == [len(fr) for fr in t.frames()]


TSHARK_FIELDS = [
    "frame.protocols",
    "vlan.id",
    "ieee8021ad.id",
    "mpls.label",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.nxt",
    "ipv6.fraghdr.nxt",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "sctp.srcport",
    "sctp.dstport",
    "dccp.srcport",
    "dccp.dstport",
    "ip.checksum.status",
    "tcp.checksum.status",
    "udp.checksum.status",
    "icmp.checksum.status",
    "icmpv6.checksum.status",
    "sctp.checksum.status",
]


def test_truth_agrees_with_tshark(tmp_path: Path) -> None:
    """tshark (not ours) decodes the wire frames; every key it can name must
    be in the truth, and every checksum must be good."""
    t = generate(13, 3000, "mixed")
    pcap = tmp_path / "m.pcap"
    with open(pcap, "wb") as out:
        write_pcap_frames(out, t.data, t.offsets)
    opts = [
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "sctp.checksum:CRC-32C",
    ]
    argv = ["tshark", "-r", str(pcap), *opts, "-T", "fields", "-E", "separator=|"]
    for field in TSHARK_FIELDS:
        argv += ["-e", field]
    lines = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    assert len(lines) == len(t)
    checked: collections.Counter[str] = collections.Counter()
    for i, line in enumerate(lines):
        row = dict(zip(TSHARK_FIELDS, line.split("|"), strict=True))
        truth = t.truth(i)

        def values(*names: str, row: dict[str, str] = row) -> set[int]:
            return {int(v, 0) for n in names for v in row[n].split(",") if v}

        assert values("vlan.id", "ieee8021ad.id") == set(truth.keys_of(KeyType.VLAN)), i
        assert values("mpls.label") == set(truth.keys_of(KeyType.MPLS)), i
        v4 = {int(IPv4Address(a)) for n in ("ip.src", "ip.dst") for a in row[n].split(",") if a}
        v6 = {int(IPv6Address(a)) for n in ("ipv6.src", "ipv6.dst") for a in row[n].split(",") if a}
        assert v4 == set(truth.keys_of(KeyType.IPV4)), i
        assert v6 == set(truth.keys_of(KeyType.IPV6)), i
        ports = values(
            "tcp.srcport",
            "tcp.dstport",
            "udp.srcport",
            "udp.dstport",
            "sctp.srcport",
            "sctp.dstport",
            "dccp.srcport",
            "dccp.dstport",
        )
        assert ports == set(truth.keys_of(KeyType.PORT)), i
        protos = row["frame.protocols"].split(":")
        if row["ip.proto"]:
            assert values("ip.proto") == set(truth.keys_of(KeyType.PROTO)), i
            checked["proto4"] += 1
        elif "ipv6.fraghdr" in protos:
            assert values("ipv6.fraghdr.nxt") == set(truth.keys_of(KeyType.PROTO)), i
            checked["proto6frag"] += 1
        elif not {"ipv6.hopopts", "ipv6.routing", "ipv6.dstopts", "ah"} & set(protos):
            assert values("ipv6.nxt") == set(truth.keys_of(KeyType.PROTO)), i
            checked["proto6"] += 1
        for n in TSHARK_FIELDS:
            if n.endswith("checksum.status") and row[n]:
                assert "0" not in row[n].split(","), (i, n)
                checked["checksums"] += 1
    frags6 = sum(1 for i in range(len(t)) if t.truth(i).case == "ipv6/udp-fragments")
    assert checked["proto4"] > 1000
    assert checked["proto6"] > 300
    assert checked["proto6frag"] == frags6
    assert checked["checksums"] > 4000
