"""Leftovers of a killed stenotype: what each directory state means and what to do."""

from __future__ import annotations

import pytest

from steno.store.lifecycle import Action, Leftover, plan_recovery

N = "1700000000000000"


@pytest.mark.parametrize(
    ("packets", "index", "expected"),
    [
        # Sealed pair: nothing to do.
        ([N], [N], None),
        # Killed while writing: hidden packet file, maybe a hidden index.
        (["." + N], [], Action.RECOVER_PACKETS),
        (["." + N], ["." + N], Action.RECOVER_PACKETS),
        # Killed between the two renames (packet file first, then index).
        ([N], ["." + N], Action.REBUILD_INDEX),
        # Packet file without any index (e.g. written with --no_index).
        ([N], [], Action.REBUILD_INDEX),
        # An index whose packets are gone.
        ([], [N], Action.DELETE_INDEX),
        ([], ["." + N], Action.DELETE_HIDDEN_INDEX),
        # A stale hidden index beside a sealed pair.
        ([N], [N, "." + N], Action.DELETE_HIDDEN_INDEX),
        # Another producer's rename order: index visible, packets still hidden.
        (["." + N], [N], Action.RECOVER_PACKETS),
    ],
)
def test_one_name(packets: list[str], index: list[str], expected: Action | None) -> None:
    plan = plan_recovery(packets, index)
    assert plan == ([] if expected is None else [Leftover(N, expected)])


def test_without_indexing_packets_stay_and_hidden_indexes_go() -> None:
    assert plan_recovery([N], [], indexing=False) == []
    assert plan_recovery([N], ["." + N], indexing=False) == [
        Leftover(N, Action.DELETE_HIDDEN_INDEX)
    ]
    assert plan_recovery(["." + N], [], indexing=False) == [Leftover(N, Action.RECOVER_PACKETS)]


def test_foreign_names_are_never_touched() -> None:
    assert plan_recovery(["dhcp", ".swp", "notes.txt", ".1x"], ["dhcp", ".lock"]) == []


def test_plan_is_oldest_first() -> None:
    names = ["1700000000000002", "1700000000000010", "1700000000000001"]
    plan = plan_recovery(["." + n for n in names], [])
    assert [p.name for p in plan] == sorted(names, key=int)
