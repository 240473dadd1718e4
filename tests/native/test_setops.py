from __future__ import annotations

from array import array

from hypothesis import given
from hypothesis import strategies as st

from steno.native.setops import intersect, union

sets = st.sets(st.integers(min_value=0, max_value=2**32 - 1), max_size=300)


def a(values: set[int]) -> array[int]:
    return array("I", sorted(values))


@given(sets, sets)
def test_match_python_sets(x: set[int], y: set[int]) -> None:
    assert list(intersect(a(x), a(y))) == sorted(x & y)
    assert list(union(a(x), a(y))) == sorted(x | y)


@given(
    st.sets(st.integers(0, 10_000), max_size=5),
    st.sets(st.integers(0, 10_000), min_size=200, max_size=2000),
)
def test_galloping_path_for_skewed_sizes(small: set[int], large: set[int]) -> None:
    both = small | set(list(large)[:3])
    assert list(intersect(a(both), a(large))) == sorted(both & large)
    assert list(intersect(a(large), a(both))) == sorted(both & large)


def test_upstream_vectors() -> None:
    # reference §9.1 (base_test.go): union and intersection cases
    assert list(union(array("I", [1, 2, 3]), array("I", [2, 3, 4]))) == [1, 2, 3, 4]
    assert list(union(array("I", [3, 4]), array("I", [1, 2]))) == [1, 2, 3, 4]
    assert list(intersect(array("I", [1, 2, 3, 4]), array("I", [0, 2, 4, 5]))) == [2, 4]
    assert list(intersect(array("I", [1, 2]), array("I", [3, 4]))) == []
    assert list(intersect(array("I"), array("I", [3, 4]))) == []
