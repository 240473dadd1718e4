"""The capture path's block entry (no second walk of the chain) indexes exactly
what the checking entry does."""

from __future__ import annotations

from steno.lab.generator import generate
from steno.native.index import IndexBuilder
from tests.support.tpacket import TP_STATUS_VLAN_VALID, Packet, blocks

BS = 1 << 16


def test_kernel_blocks_index_the_same_bytes() -> None:
    for profile in ("mixed", "hostile", "imix"):
        traffic = generate(seed=81, count=1500, profile=profile)
        packets = []
        for i in range(len(traffic)):
            frame, tag = traffic.captured(i)
            packets.append(
                Packet(
                    frame=frame,
                    sec=1_700_000_000 + i // 7,
                    nsec=(i * 7919) % 10**9,
                    status=TP_STATUS_VLAN_VALID if tag else 0,
                    vlan_tci=tag.tci if tag else 0,
                )
            )
        data, _ = blocks(packets, BS)
        checked, trusted = IndexBuilder(BS), IndexBuilder(BS)
        for i, block in enumerate(data):
            checked.add_block(block, i * BS)
            trusted.add_block(block, i * BS, from_kernel=True)
        size = len(data) * BS
        assert trusted.serialize(size) == checked.serialize(size), profile
        assert trusted.stats() == checked.stats()
