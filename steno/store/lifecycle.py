"""The life of a packet file and its index, and what to do with leftovers.

A file pair moves through three states::

    hidden (.NAME, being written) ── sealed (NAME, visible, complete) ── expired (deleted)

and ``store/sealing.py`` makes the middle step atomic enough that a crash can
only leave *hidden* state behind, or a visible packet file whose index is still
hidden (a crash between the two renames).  This module decides, from a
directory listing alone, what each leftover is and what to do with it; it does
no I/O, so every case is a table row in its test.

Decision: recover, don't discard.  Upstream's stenographer deleted every hidden
file before restarting stenotype, throwing away up to a minute of packets per
thread on every crash.  steno re-reads such a packet file, keeps its blocks up
to the first one that is not a complete TPACKET_V3 block (torn, zero-filled
preallocation, foreign), rebuilds the index from them and seals the pair.
Only files with nothing worth keeping are deleted, and names that are not
ours (not digits) are never touched.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from steno.store.naming import is_hidden, parse_micros, visible


class Action(enum.Enum):
    RECOVER_PACKETS = "keep the hidden packet file's valid blocks, index them, seal the pair"
    REBUILD_INDEX = "index a visible packet file whose index is missing or still hidden"
    DELETE_INDEX = "delete an index whose packet file is gone"
    DELETE_HIDDEN_INDEX = "delete a hidden index left beside a sealed pair"


@attrs.frozen
class Leftover:
    name: str
    action: Action


@attrs.frozen
class _Seen:
    pkt_hidden: bool = False
    pkt_visible: bool = False
    idx_hidden: bool = False
    idx_visible: bool = False


def plan_recovery(
    packet_names: Iterable[str], index_names: Iterable[str], *, indexing: bool = True
) -> list[Leftover]:
    """What to do with each unfinished file of one thread, oldest first.

    `packet_names` and `index_names` list the two directories (regular files
    only).  Sealed pairs and foreign names produce nothing.
    """
    seen: dict[str, _Seen] = {}

    def mark(names: Iterable[str], hidden_field: str, visible_field: str) -> None:
        for raw in names:
            if parse_micros(raw) is None:
                continue
            name = visible(raw)
            field = hidden_field if is_hidden(raw) else visible_field
            seen[name] = attrs.evolve(seen.get(name, _Seen()), **{field: True})

    mark(packet_names, "pkt_hidden", "pkt_visible")
    mark(index_names, "idx_hidden", "idx_visible")

    plan: list[Leftover] = []
    for name in sorted(seen, key=int):
        action = _decide(seen[name], indexing)
        if action is not None:
            plan.append(Leftover(name, action))
    return plan


def _decide(s: _Seen, indexing: bool) -> Action | None:
    if s.pkt_visible:
        if s.idx_visible:
            return Action.DELETE_HIDDEN_INDEX if s.idx_hidden else None
        # A hidden index here was complete (it is synced before the renames),
        # but re-reading one packet file is cheap and needs no trust in it.
        if s.idx_hidden or indexing:
            return Action.REBUILD_INDEX if indexing else Action.DELETE_HIDDEN_INDEX
        return None
    if s.pkt_hidden:
        return Action.RECOVER_PACKETS
    if s.idx_visible:
        return Action.DELETE_INDEX
    if s.idx_hidden:
        return Action.DELETE_HIDDEN_INDEX
    return None
