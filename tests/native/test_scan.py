"""Reading every packet of a range of blocks (``PacketFileMap.scan``), as a
query with only a time condition does: exactly what reading each position
gives, from the map or from spans read ahead, whatever the buffer."""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from steno.native._steno import ffi

from steno.native.direct_read import DirectSpans
from steno.native.extract import NO_TIME_LIMIT, PacketFileCorrupt, PacketFileMap
from tests.support.page_blocks import (
    BS,
    AlwaysTheFirstBlock,
    OneBlockAtATime,
    packet_file,
    record_frames,
)

S = 10**9


def _by_position(
    pm: PacketFileMap, positions: list[int], window: tuple[int, int] = NO_TIME_LIMIT
) -> list[bytes]:
    """The answer as the position path reads it."""
    out = ffi.new("uint8_t[]", 1 << 16)
    pos = array("I", positions)
    frames: list[bytes] = []
    start = 0
    while start < len(pos):
        got = pm.records(pos, start, out, 1 << 16, time_lo=window[0], time_hi=window[1])
        start += got.consumed
        frames.extend(record_frames(got.data))
    return frames


def _scanned(
    pm: PacketFileMap,
    start: int,
    end: int,
    *,
    window: tuple[int, int] = NO_TIME_LIMIT,
    spans: Any = None,
    out_cap: int = 1 << 16,
) -> list[bytes]:
    out = ffi.new("uint8_t[]", out_cap)
    frames: list[bytes] = []
    while start < end:
        got = pm.scan(start, end, out, out_cap, time_lo=window[0], time_hi=window[1], spans=spans)
        assert got.next > start or got.data, "no progress"
        start = got.next
        frames.extend(record_frames(got.data))
    return frames


def test_a_whole_file_scanned_is_every_packet_in_order(tmp_path: Path) -> None:
    path, positions = packet_file(tmp_path)
    with PacketFileMap(path, BS) as pm:
        whole = pm.size // BS * BS
        assert _scanned(pm, 0, whole) == _by_position(pm, positions)
        assert len(_scanned(pm, 0, whole)) == len(positions)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 6),
    first=st.integers(0, 30),
    blocks_wanted=st.integers(1, 40),
    window=st.tuples(st.integers(990, 1410), st.integers(0, 200)),
    out_cap=st.sampled_from([BS, 3000 + BS, 1 << 16]),
    how=st.sampled_from(["map", "direct", "one block at a time"]),
)
def test_any_range_any_window_any_buffer_any_spans(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    first: int,
    blocks_wanted: int,
    window: tuple[int, int],
    out_cap: int,
    how: str,
) -> None:
    path, positions = packet_file(tmp_path_factory.mktemp("f"), count=300, seed=seed)
    lo, width = window
    time_window = (lo * S, (lo + width) * S)
    with PacketFileMap(path, BS) as pm:
        last = min(first + blocks_wanted, pm.size // BS)
        start, end = first * BS, last * BS
        expected = _by_position(pm, [p for p in positions if start <= p < end], time_window)
        if how == "map":
            got = _scanned(pm, start, end, window=time_window, out_cap=out_cap)
        elif how == "direct":
            middles = list(range(start + BS // 2, end, BS))
            with DirectSpans(str(path), middles, BS, pm.size, window=3 * BS) as spans:
                got = _scanned(pm, start, end, window=time_window, spans=spans, out_cap=out_cap)
        else:
            single = OneBlockAtATime(path)
            try:
                got = _scanned(pm, start, end, window=time_window, spans=single, out_cap=out_cap)
            finally:
                single.close()
        assert got == expected


def test_a_full_buffer_resumes_at_the_packet_it_stopped_at(tmp_path: Path) -> None:
    path, positions = packet_file(tmp_path)
    with PacketFileMap(path, BS) as pm:
        out = ffi.new("uint8_t[]", BS)
        got = pm.scan(0, BS, out, 1100)  # room for one 1000-byte frame at most
        assert got.packets >= 1
        assert got.next in positions  # a packet of block 0, not a block boundary
        assert 0 < got.next < BS


def test_a_span_that_misses_the_block_is_an_error_not_a_loop(tmp_path: Path) -> None:
    path, _ = packet_file(tmp_path)
    with PacketFileMap(path, BS) as pm:
        spans = AlwaysTheFirstBlock(path)
        try:
            with pytest.raises(PacketFileCorrupt, match="no block read"):
                _scanned(pm, 2 * BS, 4 * BS, spans=spans)
        finally:
            spans.close()


def test_the_packets_end_at_a_zero_block(tmp_path: Path) -> None:
    """As ``all_positions`` has it: a preallocated file whose truncation
    failed ends in zeros, and its packets end there."""
    path, positions = packet_file(tmp_path)
    with open(path, "r+b") as f:
        f.seek(5 * BS)
        f.write(bytes(BS))
    with PacketFileMap(path, BS) as pm:
        before = [p for p in positions if p < 5 * BS]
        assert pm.all_positions().tolist() == before
        assert _scanned(pm, 0, pm.size // BS * BS) == _by_position(pm, before)


def test_a_block_with_a_broken_chain_is_corruption(tmp_path: Path) -> None:
    path, positions = packet_file(tmp_path)
    k = next(k for k in range(1, 20) if sum(k * BS <= p < (k + 1) * BS for p in positions) > 1)
    first = next(p for p in positions if p >= k * BS)
    with open(path, "r+b") as f:
        f.seek(first)  # tp_next_offset, the header's first field: now past the block
        f.write((2 * BS).to_bytes(4, "little"))
    with PacketFileMap(path, BS) as pm, pytest.raises(PacketFileCorrupt, match=f"block {k} "):
        _scanned(pm, 0, pm.size // BS * BS)


def test_blocks_past_the_end_of_the_file_are_corruption(tmp_path: Path) -> None:
    path, _ = packet_file(tmp_path)
    with PacketFileMap(path, BS) as pm:
        beyond = (pm.size // BS + 2) * BS
        with pytest.raises(PacketFileCorrupt, match="blocks up to"):
            _scanned(pm, 0, beyond)


def test_an_empty_range_reads_nothing(tmp_path: Path) -> None:
    path, _ = packet_file(tmp_path)
    with PacketFileMap(path, BS) as pm:
        out = ffi.new("uint8_t[]", BS)
        got = pm.scan(BS, BS, out, BS)
        assert (got.data, got.next, got.packets) == (b"", BS, 0)
