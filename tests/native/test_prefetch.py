"""Sparse reads of a mapped packet file: what ``PacketFileMap.prefetch`` asks
the kernel for, and that asking never changes an answer."""

from __future__ import annotations

import mmap
import random
from array import array
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st
from steno.native._steno import ffi

from steno.native.extract import (
    PREFETCH_GAP_PAGES,
    SPARSE_PER_BLOCK,
    PacketFileMap,
    prefetch_ranges,
)
from tests.native.blocks import build_block

BLOCK = 1 << 16
PAGE = mmap.PAGESIZE


def _file(tmp_path: Path, blocks: int = 6, seed: int = 5) -> Path:
    rng = random.Random(seed)
    data = bytearray()
    for b in range(blocks):
        packets: list[tuple[bytes, int, int, int | None, int | None]] = []
        size = 0
        while True:
            frame = rng.randbytes(rng.choice((60, 566, 1514, 3000)))
            if size + 82 + len(frame) + 8 > BLOCK - 48:
                break
            size += (82 + len(frame) + 7) & ~7
            packets.append((frame, 1_700_000_000 + b, len(packets), None, None))
        data += build_block(packets, block_size=BLOCK, seq=b + 1)
    path = tmp_path / "1700000000000000"
    path.write_bytes(bytes(data))
    return path


def _pages(ranges: list[tuple[int, int]]) -> set[int]:
    return {p for off, length in ranges for p in range(off // PAGE, (off + length - 1) // PAGE + 1)}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 40 * BLOCK - 1), unique=True, max_size=60),
    st.integers(1, 40 * BLOCK),
)
@example(raw=[49152, 126976], size=126977)  # a bridged page between two blocks' pages
def test_ranges_cover_every_page_a_packet_needs_and_stay_in_the_file(
    raw: list[int], size: int
) -> None:
    positions = array("I", sorted(p for p in raw if p < size))
    ranges = prefetch_ranges(positions, BLOCK, size)
    pages = _pages(ranges)
    last_page = (size - 1) // PAGE
    for pos in positions:
        for page in (pos // PAGE, pos // PAGE + 1, (pos - pos % BLOCK) // PAGE):
            assert page in pages or page > last_page
    offsets = [off for off, _ in ranges]
    assert offsets == sorted(offsets)
    for (off, length), nxt in zip(ranges, [*offsets[1:], None], strict=False):
        assert off % PAGE == 0 and length > 0 and off + length <= size
        if nxt is not None:  # disjoint, and further apart than the gap (else one range)
            assert off + length + PREFETCH_GAP_PAGES * PAGE < nxt
    # Nothing else is read: a range starts and ends on a wanted page (or at the
    # end of the file) and bridges at most ``gap`` unwanted pages at a time.
    wanted = {
        p
        for pos in positions
        for p in (pos // PAGE, pos // PAGE + 1, (pos - pos % BLOCK) // PAGE)
        if p <= last_page
    }
    for off, length in ranges:
        first, last = off // PAGE, (off + length - 1) // PAGE
        assert first in wanted and last in wanted
        unwanted_run = 0
        for page in range(first, last + 1):
            unwanted_run = 0 if page in wanted else unwanted_run + 1
            assert unwanted_run <= PREFETCH_GAP_PAGES


def test_consecutive_pages_are_one_request() -> None:
    positions = array("I", [48, 2000, 4100, 9000])  # pages 0, 0, 1, 2 of block 0
    assert prefetch_ranges(positions, BLOCK, 10 * BLOCK) == [(0, 4 * PAGE)]
    far = array("I", [BLOCK + 5 * PAGE + 100])  # its block's first page, its page and the next
    assert prefetch_ranges(far, BLOCK, 10 * BLOCK) == [(BLOCK, PAGE), (BLOCK + 5 * PAGE, 2 * PAGE)]
    assert prefetch_ranges(far, BLOCK, 10 * BLOCK, gap=4) == [(BLOCK, 7 * PAGE)]
    assert prefetch_ranges(array("I"), BLOCK, 10 * BLOCK) == []


def test_prefetch_never_changes_the_records(tmp_path: Path) -> None:
    path = _file(tmp_path)
    out = ffi.new("uint8_t[]", 1 << 20)
    rng = random.Random(9)
    with PacketFileMap(path, BLOCK) as plain:
        every = plain.all_positions()
        assert len(every) > 100
        for k in (1, 3, 20, len(every)):
            chosen = array("I", sorted(rng.sample(list(every), k)))
            want = plain.records(chosen, 0, out, 1 << 20)
            with PacketFileMap(path, BLOCK) as fetched:
                fetched.prefetch(chosen, 0, len(chosen))
                fetched.prefetch(chosen, len(chosen) // 2, len(chosen))  # again: harmless
                got = fetched.records(chosen, 0, out, 1 << 20)
            assert (got.data, got.packets, got.consumed) == (want.data, want.packets, want.consumed)


def test_sparse_means_few_packets_per_block(tmp_path: Path) -> None:
    path = _file(tmp_path, blocks=4)
    with PacketFileMap(path, BLOCK) as m:
        every = m.all_positions()
        assert not m.is_sparse(array("I"))
        assert m.is_sparse(every[: 4 * SPARSE_PER_BLOCK - 1])
        assert not m.is_sparse(every[: 4 * SPARSE_PER_BLOCK])


def test_an_empty_file_has_nothing_to_prefetch(tmp_path: Path) -> None:
    path = tmp_path / "1700000000000000"
    path.write_bytes(b"")
    with PacketFileMap(path, BLOCK) as m:
        m.prefetch(array("I", [48]), 0, 1)  # no map: nothing to do, no error
        assert not m.is_sparse(array("I"))
