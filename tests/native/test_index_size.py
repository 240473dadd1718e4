"""The index's size goal, on the benchmark's seeded synthetic IMIX traffic.

The goal (docs/index-format.md, "Size"): at most 1% of the packet file for
IMIX-like traffic with realistic flows, far below upstream's ~20 bytes a
packet.  The traffic is seeded, so the sizes are deterministic: this test
fails on a coding regression, not on a slow machine.
"""

from __future__ import annotations

import pytest

from bench.index_build import BLOCK_SIZE, synthetic_imix
from steno.native.index import IndexBuilder
from steno.store.index_format import IndexFile


@pytest.mark.parametrize(
    ("mean_flow_packets", "max_bytes_per_packet", "max_share"),
    [
        # Mostly 2- and 3-packet flows: near the goal's edge (measured 3.99 B, 0.92%).
        (10, 4.2, 0.0097),
        # Closer to an edge link (measured 2.63 B, 0.60%).
        (30, 2.8, 0.0064),
    ],
)
def test_index_size_on_synthetic_imix(
    mean_flow_packets: float, max_bytes_per_packet: float, max_share: float
) -> None:
    traffic = synthetic_imix(150_000, mean_flow_packets=mean_flow_packets, seed=7)
    with IndexBuilder(BLOCK_SIZE) as b:
        for i, blk in enumerate(traffic.blocks):
            b.add_block(blk, i * BLOCK_SIZE)
        data = b.serialize(traffic.file_size)
    ix = IndexFile.from_bytes(data)
    assert ix.header.packet_count == traffic.packets
    per_packet = len(data) / traffic.packets
    assert per_packet <= max_bytes_per_packet, per_packet
    assert len(data) <= max_share * traffic.file_size, (len(data), traffic.file_size)
