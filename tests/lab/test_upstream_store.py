"""Real upstream data: Debian's stenotype captures generated traffic in the lab,
and steno reads what it wrote (packet files and index files)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from steno.lab.generator import Traffic, generate
from steno.lab.netns import Lab
from steno.store.upstream_index import UpstreamIndex
from tests.lab.upstream_contract import LIMITS, classify, expected_index, upstream_keys_of
from tests.lab.upstream_run import StoredPacket, UpstreamStenotype, stored_packets
from tests.store.leveldb_oracle import LevelDB
from tests.store.sstable_writer import VERSION_VALUE, build_table

pytestmark = [pytest.mark.lab, pytest.mark.upstream, pytest.mark.slow]

# Every reason classify() may give on generated traffic (docs/upstream-compat.md);
# anything else fails.
MIXED = {
    "outer VLAN (tp_vlan_tci) not indexed",
    "IPv4 later fragment: payload read as ports",
    "IPv6 later fragment: proto 44, not the next header",
    "IPv6 AH: upstream stops at it (proto 51, no ports)",
    "DCCP ports not indexed (upstream: TCP and UDP only)",
    "SCTP ports not indexed (upstream: TCP and UDP only)",
    "UDP-Lite ports not indexed (upstream: TCP and UDP only)",
}
HOSTILE = MIXED | {
    LIMITS,
    "IP header of the wrong version: upstream indexes it anyway",
    "IPv6 extension chain cut short by the capture: upstream records no proto",
    "last MPLS label with no byte after it: upstream drops it",
    "TCP header < 20 or UDP header < 8 bytes: upstream records no ports",
}
# Which of them each profile shows (seeded, so always the same).
EXPECTED = {"mixed": MIXED, "imix": set(), "hostile": HOSTILE}


@pytest.fixture(scope="module")
def leveldb(tmp_path_factory: pytest.TempPathFactory) -> LevelDB:
    return LevelDB.build(tmp_path_factory.mktemp("leveldb"))


def capture(lab: Lab, traffic: Traffic, rate: float, bursts: int = 1) -> tuple[Path, list[str]]:
    """Sends traffic in bursts a rotation apart (so into more than one file),
    then waits until every packet is in a sealed file with its index."""
    base = lab.tmpdir / "upstream"
    steno = UpstreamStenotype(lab, base).start()
    cuts = [len(traffic) * k // bursts for k in range(bursts + 1)]
    for k in range(bursts):
        if k:
            time.sleep(3.5)  # > fileage_sec + blockage_sec
        part = traffic.offsets[cuts[k] : cuts[k + 1] + 1]
        result = lab.send((traffic.data, part), rate=rate)
        assert result.sent == cuts[k + 1] - cuts[k]
    names = steno.wait_sealed(len(traffic))
    steno.stop()
    return base, names


def match(traffic: Traffic) -> dict[bytes, int]:
    """Captured bytes -> frame number (every generated frame is unique)."""
    index = {traffic.captured(i)[0]: i for i in range(len(traffic))}
    assert len(index) == len(traffic)
    return index


@pytest.mark.parametrize(
    ("profile", "seed", "count", "bursts"),
    [("mixed", 31, 4000, 2), ("imix", 32, 3000, 1), ("hostile", 33, 3000, 1)],
)
def test_upstream_index_lists_every_packet_under_its_keys(
    lab: Lab, leveldb: LevelDB, profile: str, seed: int, count: int, bursts: int
) -> None:
    traffic = generate(seed=seed, count=count, profile=profile)
    base, names = capture(lab, traffic, rate=20_000, bursts=bursts)
    assert len(names) >= bursts
    by_bytes = match(traffic)
    seen: Counter[int] = Counter()
    differences: Counter[str] = Counter()
    for name in names:
        packets: list[StoredPacket] = list(stored_packets(base / "PKT0" / name))
        idx_path = base / "IDX0" / name
        with UpstreamIndex.open(idx_path) as idx:
            summary = idx.check()
            got = {k: list(idx.positions(k[0], k[1:])) for k, _ in idx.all_items() if k[0]}
            # The reader agrees with LevelDB's own reader on every entry...
            dumped = leveldb.dump(idx_path)
            assert list(idx.all_items()) == dumped
        # ... and the test writer gives back the file byte for byte.
        assert build_table(dumped) == idx_path.read_bytes()
        assert dumped[0] == (b"\x00", VERSION_VALUE)
        assert summary.positions == sum(len(v) for v in got.values())

        # (c) exactly the keys of reference §2.8, per packet, at its position.
        want = expected_index((p.position, upstream_keys_of(p.frame)) for p in packets)
        assert got.keys() == want.keys(), name
        for key, positions in want.items():
            assert got[key] == positions, key.hex()

        # And how that differs from steno's contract, frame by frame.
        for p in packets:
            i = by_bytes[p.frame]
            seen[i] += 1
            truth = traffic.truth(i)
            assert (p.stripped_tci is None) == (truth.outer_tag is None)
            differences.update(
                classify(p.frame, p.stripped_tci, traffic.keys(i), upstream_keys_of(p.frame))
            )
    assert sorted(seen) == list(range(len(traffic))) and set(seen.values()) == {1}
    unexplained = {r: n for r, n in differences.items() if r not in HOSTILE}
    assert not unexplained, unexplained
    print(f"\n{profile}: {len(traffic)} frames, {len(names)} files;", json.dumps(differences))
    assert set(differences) == EXPECTED[profile]
