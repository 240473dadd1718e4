"""Posting lists of the index file, in pure Python: delta varint and Elias-Fano.

The second implementation of ``steno/native/c/postings.c`` (the byte layout
and the reasons for it are in docs/index-format.md, "Posting lists").  A list
is a strictly increasing sequence of 32-bit integers, never empty, preceded by
a varint header ``n << 2 | kind``:

* kind 0, delta varint: ``v[0]``, then ``v[i] - v[i-1] - 1`` for each later value;
* kind 1, Elias-Fano: ``v[0]``, the span ``u = v[n-1] - v[0]``, then the
  ``m = n - 1`` offsets ``x = v[i] - v[0]`` split into ``l`` low bits (the
  largest ``l`` with ``m << l <= u``) stored verbatim and a high part stored in
  unary (bit ``(x >> l) + i`` of the high bitmap), low bits first.

A list may be stored relative to a reference value (the values minus the
reference); the decoder returns the stored values and the caller, who knows
the reference (docs/index-format.md, "List collections"), adds it back.

Decoding is strict -- anything the C writer would never produce raises
:class:`PostingsError` -- because this module is what tests hold the writer
to.  :func:`encode` exists for tests (it makes the same choice as the C
writer: the smaller coding, delta on a tie).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Final

__all__ = ["DELTA", "ELIAS_FANO", "PostingsError", "decode", "encode", "peek"]

DELTA: Final = 0
ELIAS_FANO: Final = 1
_U32: Final = 0xFFFFFFFF


class PostingsError(ValueError):
    """A list's bytes are not a valid posting list."""


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    for i in range(5):
        if pos >= end:
            raise PostingsError("list cut short inside a varint")
        b = buf[pos]
        pos += 1
        if i == 4 and b > 0x0F:
            raise PostingsError("varint larger than 32 bits")
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value, pos
    raise AssertionError("unreachable")  # pragma: no cover


def _varint_bytes(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _ef_low_bits(m: int, u: int) -> int:
    low = 0
    while low < 31 and (m << (low + 1)) <= u:
        low += 1
    return low


def _ef_sizes(m: int, u: int) -> tuple[int, int, int]:
    low = _ef_low_bits(m, u)
    return low, (m * low + 7) // 8, (m + (u >> low) + 7) // 8


class _Head:
    __slots__ = ("base", "body", "high_bytes", "kind", "low", "low_bytes", "n", "span")

    def __init__(self, buf: bytes, pos: int, end: int) -> None:
        header, pos = _varint(buf, pos, end)
        self.n = header >> 2
        self.kind = header & 3
        if self.n == 0:
            raise PostingsError("empty list")
        self.base = self.span = self.low = self.low_bytes = self.high_bytes = 0
        if self.kind == DELTA:
            if self.n > end - pos:
                raise PostingsError(f"delta list of {self.n} values cannot fit")
            self.body = pos
            return
        if self.kind != ELIAS_FANO:
            raise PostingsError(f"unknown list coding {self.kind}")
        self.base, pos = _varint(buf, pos, end)
        self.span, pos = _varint(buf, pos, end)
        if self.base + self.span > _U32:
            raise PostingsError("Elias-Fano list exceeds 32 bits")
        m = self.n - 1
        if m == 0:
            if self.span:
                raise PostingsError("one-value Elias-Fano list with a span")
        else:
            if self.span < m:
                raise PostingsError("Elias-Fano span too small for its values")
            self.low, self.low_bytes, self.high_bytes = _ef_sizes(m, self.span)
        if self.low_bytes + self.high_bytes > end - pos:
            raise PostingsError("Elias-Fano list cut short")
        self.body = pos


def peek(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(length, encoded size, first stored value) of the list at ``buf[pos:end]``.

    Reads only the header and, for a delta list, the varints' continuation bits.
    """
    h = _Head(buf, pos, end)
    if h.kind == ELIAS_FANO:
        return h.n, h.body + h.low_bytes + h.high_bytes - pos, h.base
    first, _ = _varint(buf, h.body, end)
    p = h.body
    for _ in range(h.n):
        length = 0
        while True:
            if p >= end:
                raise PostingsError("delta list cut short")
            length += 1
            if length > 5:
                raise PostingsError("varint longer than 5 bytes")
            b = buf[p]
            p += 1
            if not b & 0x80:
                break
    return h.n, p - pos, first


def decode(buf: bytes, pos: int, end: int) -> tuple[list[int], int]:
    """The values of the list at ``buf[pos:end]`` and the offset just after it."""
    h = _Head(buf, pos, end)
    if h.kind == DELTA:
        p = h.body
        v, p = _varint(buf, p, end)
        out = [v]
        for _ in range(h.n - 1):
            gap, p = _varint(buf, p, end)
            v += gap + 1
            if v > _U32:
                raise PostingsError("delta list exceeds 32 bits")
            out.append(v)
        return out, p
    out = [h.base]
    m = h.n - 1
    low_area = h.body
    high_area = h.body + h.low_bytes
    low = h.low
    mask = (1 << low) - 1
    i = 0
    prev = 0
    for k in range(h.high_bytes):
        bits = buf[high_area + k]
        while bits:
            b = (bits & -bits).bit_length() - 1
            bits &= bits - 1
            if i == m:
                raise PostingsError("Elias-Fano high bits hold too many values")
            x = (k * 8 + b - i) << low
            if low:
                bit = i * low
                start = low_area + (bit >> 3)
                stop = low_area + ((bit + low + 7) >> 3)
                x |= (int.from_bytes(buf[start:stop], "little") >> (bit & 7)) & mask
            if x <= prev or x > h.span:
                raise PostingsError("Elias-Fano values not strictly increasing within the span")
            out.append(h.base + x)
            prev = x
            i += 1
    if i != m or prev != h.span:
        raise PostingsError("Elias-Fano list does not end at its span")
    return out, high_area + h.high_bytes


def _delta(values: Sequence[int]) -> bytes:
    out = bytearray(_varint_bytes(len(values) << 2 | DELTA))
    out += _varint_bytes(values[0])
    for a, b in itertools.pairwise(values):
        out += _varint_bytes(b - a - 1)
    return bytes(out)


def _elias_fano(values: Sequence[int]) -> bytes:
    n = len(values)
    base, span = values[0], values[-1] - values[0]
    m = n - 1
    low, low_bytes, high_bytes = _ef_sizes(m, span)
    low_int = 0
    high_int = 0
    for i, v in enumerate(values[1:]):
        x = v - base
        low_int |= (x & ((1 << low) - 1)) << (i * low)
        high_int |= 1 << ((x >> low) + i)
    out = _varint_bytes(n << 2 | ELIAS_FANO) + _varint_bytes(base) + _varint_bytes(span)
    return out + low_int.to_bytes(low_bytes, "little") + high_int.to_bytes(high_bytes, "little")


def encode(values: Sequence[int], ref: int = 0) -> bytes:
    """Encodes a non-empty, strictly increasing list of 32-bit values as the C writer does.

    The list is stored relative to ``ref`` (at most its first value): a reader
    adds ``ref`` back to every decoded value.
    """
    if not values:
        raise ValueError("empty list")
    if any(b <= a for a, b in itertools.pairwise(values)) or values[-1] > _U32:
        raise ValueError("values must be strictly increasing 32-bit integers")
    if not 0 <= ref <= values[0]:
        raise ValueError("ref must not exceed the first value")
    values = [v - ref for v in values]
    delta = _delta(values)
    if len(values) < 2:
        return delta
    ef = _elias_fano(values)
    return delta if len(delta) <= len(ef) else ef
