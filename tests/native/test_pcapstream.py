"""Merging per-thread record streams and cutting at limits (C), with upstream's vectors."""

from __future__ import annotations

import struct

import pytest

from steno.native.pcapstream import Budget, Merger, MergeStatus, StreamFormatError


def rec(sec: int, usec: int, data: bytes = b"\x01\x02\x03") -> bytes:
    return struct.pack("<IIII", sec, usec, len(data), len(data)) + data


def times(stream: bytes) -> list[tuple[int, int]]:
    out, off = [], 0
    while off < len(stream):
        sec, usec, incl, _ = struct.unpack_from("<IIII", stream, off)
        out.append((sec, usec))
        off += 16 + incl
    return out


def test_merge_orders_by_time_like_upstream() -> None:
    # base_test.go: inputs at 456 s and 123 s come out 123, 456.
    m = Merger(2, 1 << 16)
    m.feed(0, rec(456, 0), done=True)
    m.feed(1, rec(123, 0), done=True)
    data, status, _ = m.merge()
    assert status is MergeStatus.END
    assert times(data) == [(123, 0), (456, 0)]


def test_merge_asks_for_more_before_going_past_an_unfinished_input() -> None:
    m = Merger(2, 1 << 16)
    m.feed(0, rec(1, 0) + rec(3, 0), done=False)
    m.feed(1, rec(2, 0) + rec(9, 0), done=True)
    data, status, which = m.merge()
    assert times(data) == [(1, 0), (2, 0), (3, 0)]
    assert (status, which) == (MergeStatus.NEED_INPUT, 0)
    m.feed(0, rec(4, 5), done=True)
    data, status, _ = m.merge()
    assert times(data) == [(4, 5), (9, 0)] and status is MergeStatus.END


def test_merge_stops_when_out_is_full() -> None:
    m = Merger(1, 40)
    m.feed(0, rec(1, 0) * 3, done=True)
    data, status, _ = m.merge()
    assert len(times(data)) == 2 and status is MergeStatus.OUT_FULL


def test_merge_refuses_a_truncated_record() -> None:
    m = Merger(1, 1 << 10)
    m.feed(0, rec(1, 0)[:-1], done=True)
    with pytest.raises(StreamFormatError):
        m.merge()


# Reference §4.9, with 3-byte packets (19 bytes each); byte budgets start
# after upstream's 16-byte charge for the file header.
@pytest.mark.parametrize(
    ("packets", "nbytes", "kept"),
    [(2, None, 2), (None, 17 - 16, 1), (None, 35 - 16, 1), (None, 36 - 16, 2), (None, -5 - 16, 0)],
)
def test_limits_keep_the_packet_that_crosses_the_budget(
    packets: int | None, nbytes: int | None, kept: int
) -> None:
    budget = Budget()
    if packets is not None:
        budget.packets = packets
    if nbytes is not None:
        budget.nbytes = nbytes
    stream = rec(1, 0) * 5
    keep, stop = budget.cut(stream)
    assert keep == 19 * kept
    assert stop


def test_no_limit_keeps_everything_and_counts() -> None:
    budget = Budget()
    start = budget.packets
    keep, stop = budget.cut(rec(1, 0) * 4)
    assert (keep, stop) == (76, False)
    assert start - budget.packets == 4
