"""Dense reads around the page cache: the windows ``DirectReader`` reads with
O_DIRECT, and that extracting from them (``DirectSpans``, or any ``Spans``)
gives exactly what reading through the map gives."""

from __future__ import annotations

import os
import random
from array import array
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from steno.native._steno import ffi

from steno.native.direct_read import (
    DirectReader,
    DirectSpans,
    window_size,
    windows_for,
    worth_reading_direct,
)
from steno.native.extract import PacketFileCorrupt, PacketFileMap
from tests.support.page_blocks import (
    BS,
    AlwaysTheFirstBlock,
    OneBlockAtATime,
    packet_file,
    record_frames,
)


def _read_all(
    pm: PacketFileMap, positions: list[int], spans: Any = None, out_cap: int = 1 << 16
) -> list[bytes]:
    out = ffi.new("uint8_t[]", out_cap)
    pos = array("I", positions)
    frames: list[bytes] = []
    start = 0
    while start < len(pos):
        got = pm.records(pos, start, out, out_cap, spans=spans)
        assert got.consumed > 0
        start += got.consumed
        frames.extend(record_frames(got.data))
    return frames


@pytest.mark.parametrize(
    ("positions", "window", "size", "expected"),
    [
        ([], 100, 1000, []),
        ([0, 10, 99], 100, 1000, [(0, 100)]),
        ([0, 100, 250], 100, 1000, [(0, 100), (100, 100), (200, 100)]),
        ([950], 100, 960, [(900, 60)]),  # clipped to the file
        ([120, 130, 510], 100, 1000, [(100, 100), (500, 100)]),  # windows with none are skipped
        ([1200], 100, 1000, []),  # past the end
    ],
)
def test_windows_hold_every_position_once(
    positions: list[int], window: int, size: int, expected: list[tuple[int, int]]
) -> None:
    assert windows_for(positions, window, size) == expected


@pytest.mark.parametrize(
    ("positions", "direct"),
    [
        ([], False),
        ([48], True),
        ([48, 4096 + 48], True),  # two packets over two pages
        ([48, 3 * 4096 + 48], False),  # two over four
        (list(range(48, 1 << 20, 2048)), True),  # two a page: tcp
        (list(range(48, 1 << 20, 10_000)), False),  # one in every two or three: port 53
    ],
)
def test_reading_direct_takes_a_packet_per_page(positions: list[int], direct: bool) -> None:
    assert worth_reading_direct(positions) is direct


def test_a_window_is_whole_blocks() -> None:
    assert window_size(1 << 20) == 4 << 20
    assert window_size(3 << 20) == 3 << 20
    assert window_size(8 << 20) == 8 << 20  # never less than a block


@pytest.mark.parametrize("readers", [1, 2, 3])
def test_the_reader_hands_out_the_files_bytes_in_order(tmp_path: Path, readers: int) -> None:
    path = tmp_path / "f"
    data = random.Random(1).randbytes(40 * BS + 100)
    path.write_bytes(data)
    windows = [(k * BS, 2 * BS) for k in range(0, 38, 3)] + [(39 * BS, BS + 100)]
    with DirectReader(path, windows, depth=2, readers=readers) as reader:
        got = [(w.pos, w.data[: w.length]) for w in reader]
    assert got == [(off, data[off : off + n]) for off, n in windows]


def test_a_read_error_comes_where_its_window_would_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(8 * BS))
    real_preadv = os.preadv

    def failing(fd: int, buffers: Any, offset: int, *args: Any) -> int:
        if offset == 5 * BS:
            raise OSError(5, "Input/output error")
        return real_preadv(fd, buffers, offset, *args)

    monkeypatch.setattr(os, "preadv", failing)
    seen: list[int] = []

    def read_all(reader: DirectReader) -> None:
        seen.extend(window.pos for window in reader)

    with (
        DirectReader(path, [(k * BS, BS) for k in range(8)], readers=2) as reader,
        pytest.raises(OSError, match="Input/output"),
    ):
        read_all(reader)
    assert seen == [0, BS, 2 * BS, 3 * BS, 4 * BS]


def test_closing_early_stops_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(64 * BS))
    reader = DirectReader(path, [(k * BS, BS) for k in range(64)], depth=2)
    next(iter(reader))
    reader.close()
    assert not any(t.is_alive() for t in reader._threads)


def test_spans_give_what_the_map_gives(tmp_path: Path) -> None:
    path, positions = packet_file(tmp_path)
    with PacketFileMap(path, BS) as pm:
        expected = _read_all(pm, positions)
        with DirectSpans(str(path), positions, BS, pm.size, window=2 * BS) as spans:
            assert _read_all(pm, positions, spans) == expected


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    window_blocks=st.integers(1, 5),
    out_cap=st.sampled_from([BS, 3000 + BS, 1 << 16]),
    keep=st.floats(0.05, 1.0),
)
def test_any_subset_any_window_any_buffer(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    window_blocks: int,
    out_cap: int,
    keep: float,
) -> None:
    path, positions = packet_file(tmp_path_factory.mktemp("f"), count=300, seed=seed % 7)
    chosen = [p for p in positions if random.Random(seed ^ p).random() < keep]
    with PacketFileMap(path, BS) as pm:
        expected = _read_all(pm, chosen, out_cap=out_cap)
        with DirectSpans(str(path), chosen, BS, pm.size, window=window_blocks * BS) as spans:
            assert _read_all(pm, chosen, spans, out_cap=out_cap) == expected


def test_a_span_of_one_block_resumes_in_the_next(tmp_path: Path) -> None:
    path, positions = packet_file(tmp_path)
    with PacketFileMap(path, BS) as pm:
        spans = OneBlockAtATime(path)
        try:
            assert _read_all(pm, positions, spans) == _read_all(pm, positions)
        finally:
            spans.close()


def test_a_position_past_the_last_span_is_corruption(tmp_path: Path) -> None:
    path, positions = packet_file(tmp_path)
    size = path.stat().st_size
    with PacketFileMap(path, BS) as pm:
        bad = [*positions[:3], size + 48]
        with DirectSpans(str(path), bad, BS, size) as spans, pytest.raises(PacketFileCorrupt):
            _read_all(pm, bad, spans)


def test_a_torn_block_in_a_span_is_corruption(tmp_path: Path) -> None:
    path, positions = packet_file(tmp_path)
    with open(path, "r+b") as f:
        f.seek(2 * BS)
        f.write(bytes(BS))  # zero-filled, as after a crash
    with (
        PacketFileMap(path, BS) as pm,
        DirectSpans(str(path), positions, BS, pm.size) as spans,
        pytest.raises(PacketFileCorrupt, match="block 2"),
    ):
        _read_all(pm, positions, spans)


def test_a_span_that_misses_the_block_is_an_error_not_a_loop(tmp_path: Path) -> None:
    path, positions = packet_file(tmp_path)
    later = [p for p in positions if p >= 2 * BS]
    with PacketFileMap(path, BS) as pm:
        spans = AlwaysTheFirstBlock(path)
        try:
            with pytest.raises(PacketFileCorrupt):
                _read_all(pm, later, spans)
        finally:
            spans.close()
