"""Trimming a file's positions to the blocks a time window can touch, from the
block descriptors alone: never a packet of the window left out."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steno.native.extract import TIME_SLACK_NS, PacketFileMap
from tests.support.tpacket import Packet, block

BS = 1 << 14
S = 10**9


def _write(path: Path, block_times: Sequence[list[int] | None]) -> tuple[list[int], list[int]]:
    """One block per entry: packets at those times (ns), or a zero-filled
    block (None).  Returns every position and its packet's time."""
    data = bytearray()
    positions: list[int] = []
    times: list[int] = []
    for k, ts in enumerate(block_times):
        if ts is None:
            data += bytes(BS)
            continue
        packets = [Packet(frame=bytes(60), sec=t // S, nsec=t % S) for t in ts]
        raw, offsets = block(packets, BS, seq=k + 1)
        data += raw
        positions += [k * BS + o for o in offsets]
        times += ts
    path.write_bytes(bytes(data))
    return positions, times


def test_keeps_the_blocks_that_meet_the_window(tmp_path: Path) -> None:
    base = 1_700_000_000 * S
    path = tmp_path / "f"
    # Blocks ten seconds apart; each holds packets over a second.
    positions, _ = _write(
        path, [[base + k * 10 * S + i * S // 4 for i in range(4)] for k in range(6)]
    )
    with PacketFileMap(path, BS) as pm:
        kept = pm.within_blocks_in_time(array("I", positions), base + 21 * S, base + 35 * S)
    assert [p // BS for p in kept] == [2] * 4 + [3] * 4  # blocks 2 (20-21 s) and 3 (30-31 s)


def test_a_block_just_outside_the_window_is_kept_for_the_slack(tmp_path: Path) -> None:
    base = 1_700_000_000 * S
    path = tmp_path / "f"
    half = TIME_SLACK_NS // 2
    positions, _ = _write(path, [[base], [base + 10 * S], [base + 20 * S]])
    with PacketFileMap(path, BS) as pm:
        kept = pm.within_blocks_in_time(array("I", positions), base + 10 * S + half, base + 11 * S)
    assert [p // BS for p in kept] == [1]


def test_a_block_that_is_not_a_block_cannot_be_ruled_out(tmp_path: Path) -> None:
    base = 1_700_000_000 * S
    path = tmp_path / "f"
    positions, _ = _write(path, [[base], None, [base + 20 * S], [base + 30 * S]])
    with PacketFileMap(path, BS) as pm:
        kept = pm.within_blocks_in_time(array("I", positions), base + 30 * S, base + 31 * S)
    # The zero block (1) widens the span from block 1 on; block 0 is out.
    assert [p // BS for p in kept] == [2, 3]


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=0, max_value=3 * S), min_size=1, max_size=60),
    per_block=st.integers(min_value=1, max_value=6),
    window=st.tuples(st.integers(0, 100 * S), st.integers(0, 30 * S)),
)
def test_no_packet_of_the_window_is_left_out(
    tmp_path_factory: pytest.TempPathFactory,
    gaps: list[int],
    per_block: int,
    window: tuple[int, int],
) -> None:
    base = 1_700_000_000 * S
    times = [base]
    for g in gaps:
        times.append(times[-1] + g)
    chunks = [times[i : i + per_block] for i in range(0, len(times), per_block)]
    path = tmp_path_factory.mktemp("f") / "f"
    positions, packet_times = _write(path, chunks)
    lo = base + window[0]
    hi = lo + window[1]
    with PacketFileMap(path, BS) as pm:
        kept = set(pm.within_blocks_in_time(array("I", positions), lo, hi))
    wanted = {p for p, t in zip(positions, packet_times, strict=True) if lo <= t < hi}
    assert wanted <= kept
