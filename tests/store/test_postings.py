"""steno/store/postings.py: the list codec, pinned by known bytes and round trips.

The C writer's output is checked against this decoder in tests/native; here the
codec itself is checked: exact bytes for a few lists (so the format cannot drift
silently), the writer's choice rule, strict rejection of malformed lists.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steno.store import postings
from steno.store.postings import DELTA, ELIAS_FANO, PostingsError, decode, encode, peek


def kind(data: bytes) -> int:
    return data[0] & 3


def test_single_value_is_delta() -> None:
    assert encode([300]) == bytes([1 << 2, 0xAC, 0x02])


def test_dense_short_list_is_delta() -> None:
    data = encode([10, 11, 13])
    assert data == bytes([3 << 2, 10, 0, 1])
    assert decode(data, 0, len(data)) == ([10, 11, 13], len(data))


def test_elias_fano_known_bytes() -> None:
    values = [1000, 1003, 1005, 1010, 1020, 1030, 1100]
    # Here both codings take 9 bytes and the writer keeps delta; pin the
    # Elias-Fano layout through its encoder directly, and decode it.
    data = postings._elias_fano(values)
    # header n=7 -> 7 << 2 | 1 = 29; base 1000 = e8 07; span 100 = 64;
    # m = 6 offsets (3, 5, 10, 20, 30, 100): l = 4 (6 << 4 <= 100 < 6 << 5)
    assert data[:4] == bytes([29, 0xE8, 0x07, 100])
    # low nibbles 3, 5, 10, 4, 14, 4 packed LSB first
    low = bytes([0x53, 0x4A, 0x4E])
    # high parts 0, 0, 0, 1, 1, 6 -> bits (high + i) 0, 1, 2, 4, 5, 11 of 12
    high = bytes([0b00110111, 0b00001000])
    assert data[4:] == low + high
    assert decode(data, 0, len(data)) == (values, len(data))
    assert encode(values) == postings._delta(values)


def test_writer_picks_the_smaller_coding() -> None:
    sparse = [i * 100_003 for i in range(1, 200)]
    assert kind(encode(sparse)) == ELIAS_FANO
    assert len(encode(sparse)) < 3 * len(sparse)
    assert kind(encode([5, 6])) == DELTA


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=300, unique=True))
def test_round_trip(values: list[int]) -> None:
    values.sort()
    data = encode(values)
    assert decode(data, 0, len(data)) == (values, len(data))
    assert peek(data, 0, len(data)) == (len(values), len(data), values[0])
    # Self-delimiting: trailing bytes are not consumed.
    assert decode(data + b"\xff\xff", 0, len(data) + 2) == (values, len(data))


@given(st.lists(st.integers(0, 2**20), min_size=2, max_size=200, unique=True), st.data())
def test_every_cut_is_rejected(values: list[int], data: st.DataObject) -> None:
    values.sort()
    enc = encode(values)
    cut = data.draw(st.integers(0, len(enc) - 1))
    with pytest.raises(PostingsError):
        decode(enc[:cut], 0, cut)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "cut short"),
        (bytes([0]), "empty"),
        (bytes([2 << 2 | 2, 0, 0]), "unknown"),
        (bytes([1 << 2, 0x80, 0x80, 0x80, 0x80, 0x10]), "32 bits"),
        (bytes([2 << 2, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0]), "exceeds 32 bits"),
        (bytes([1 << 2 | 1, 5, 1]), "span"),
        (bytes([3 << 2 | 1, 0, 1]), "too small"),
        (bytes([2 << 2 | 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 0]), "exceeds 32 bits"),
        # n=2, span 4: m=1, l=2; x = 4 is high bit 1; a further set bit is one too many
        (bytes([2 << 2 | 1, 0, 4, 0b00, 0b110]), "too many"),
        # high part says x = 4 but low bits make it 5 > span
        (bytes([2 << 2 | 1, 0, 4, 0b01, 0b10]), "strictly increasing"),
        # the one value is below the span: it does not end there
        (bytes([2 << 2 | 1, 0, 4, 0b11, 0b01]), "end at its span"),
    ],
)
def test_malformed_lists(data: bytes, why: str) -> None:
    with pytest.raises(PostingsError, match=why):
        decode(data, 0, len(data))


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=50, unique=True), st.data())
def test_relative_to_a_reference(values: list[int], data: st.DataObject) -> None:
    values.sort()
    ref = data.draw(st.integers(0, values[0]))
    enc = encode(values, ref)
    stored, _ = decode(enc, 0, len(enc))
    assert [v + ref for v in stored] == values
    assert len(enc) <= len(encode(values))


def test_encode_refuses_unsorted_input() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        encode([2, 1])
    with pytest.raises(ValueError, match="empty"):
        encode([])
    with pytest.raises(ValueError, match="ref"):
        encode([5], 6)
