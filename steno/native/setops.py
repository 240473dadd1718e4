"""Set algebra on sorted uint32 arrays, in C (``c/setops.h``).

The query engine's ``and``/``or`` on flow ids: one call per operator per file,
never a Python loop over the elements.
"""

from __future__ import annotations

from array import array
from typing import Any

from steno.native._steno import ffi, lib


def _as_u32(values: array[int]) -> array[int]:
    if values.typecode != "I" or values.itemsize != 4:
        raise TypeError("expected array('I') of 32-bit values")
    return values


def _take(out: Any, n: Any) -> array[int]:
    result = array("I")
    if n[0]:
        try:
            result.frombytes(ffi.buffer(out[0], n[0] * 4))
        finally:
            lib.steno_free(out[0])
    return result


def _call(fn: Any, a: array[int], b: array[int]) -> array[int]:
    a, b = _as_u32(a), _as_u32(b)
    out = ffi.new("uint32_t **")
    n = ffi.new("size_t *")
    pa = ffi.from_buffer("uint32_t[]", a) if a else ffi.NULL
    pb = ffi.from_buffer("uint32_t[]", b) if b else ffi.NULL
    if fn(pa, len(a), pb, len(b), out, n) < 0:
        raise MemoryError("set operation")
    return _take(out, n)


def intersect(a: array[int], b: array[int]) -> array[int]:
    """Sorted distinct values in both a and b (both sorted and distinct)."""
    return _call(lib.steno_set_and, a, b)


def union(a: array[int], b: array[int]) -> array[int]:
    """Sorted distinct values in a or b (both sorted and distinct)."""
    return _call(lib.steno_set_or, a, b)
