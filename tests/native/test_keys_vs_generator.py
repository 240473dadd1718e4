"""Two independent readings of docs/index-keys.md must agree: the C frame
parser (capture side) and the traffic generator's ground truth (built from
its construction parameters, not by parsing bytes)."""

from __future__ import annotations

import pytest

from steno.lab.generator import generate
from steno.lab.truth import Key, KeyType
from steno.native.index import FrameKeys, frame_keys

TP_STATUS_VLAN_VALID = 0x10


def as_keys(fk: FrameKeys) -> frozenset[Key]:
    keys: set[Key] = set()
    keys |= {(KeyType.PROTO, v) for v in fk.proto}
    keys |= {(KeyType.PORT, v) for v in fk.ports}
    keys |= {(KeyType.VLAN, v) for v in fk.vlans}
    keys |= {(KeyType.IPV4, int(v)) for v in fk.ipv4}
    keys |= {(KeyType.MPLS, v) for v in fk.mpls}
    keys |= {(KeyType.IPV6, int(v)) for v in fk.ipv6}
    return frozenset(keys)


@pytest.mark.parametrize(("profile", "count"), [("mixed", 8000), ("hostile", 3000), ("imix", 2000)])
def test_c_parser_agrees_with_the_generators_truth(profile: str, count: int) -> None:
    traffic = generate(seed=99, count=count, profile=profile)
    mismatches = []
    for i in range(len(traffic)):
        frame, tag = traffic.captured(i)  # as the receiving kernel hands it over
        status = TP_STATUS_VLAN_VALID if tag is not None else 0
        got = as_keys(frame_keys(frame, tp_status=status, vlan_tci=tag.tci if tag else 0))
        if got != traffic.keys(i):
            mismatches.append((i, traffic.truth(i).case, sorted(got ^ traffic.keys(i))))
    assert mismatches[:5] == []
