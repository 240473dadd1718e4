"""The traffic being generated: frames back to back, offsets, a table of truths."""

from __future__ import annotations

from array import array

from steno.lab import _plan as P
from steno.lab.truth import FrameTruth


class Assembly:
    """The growing traffic: bytes, frame offsets, truth table."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.offsets = array("Q", [0])
        self.truth_ids = array("I")
        self.truths: list[FrameTruth] = []
        self._ids: dict[FrameTruth, int] = {}

    def truth_id(self, truth: FrameTruth) -> int:
        tid = self._ids.get(truth)
        if tid is None:
            tid = self._ids[truth] = len(self.truths)
            self.truths.append(truth)
        return tid

    @property
    def count(self) -> int:
        return len(self.truth_ids)

    def add(self, frame: bytes, truth_id: int) -> None:
        self.buf += frame
        self.offsets.append(len(self.buf))
        self.truth_ids.append(truth_id)


def truth_of(built: P.Built, *, flow: int, case: str, caplen: int | None = None) -> FrameTruth:
    """The truth of a built frame (captured with caplen bytes of its captured view)."""
    trail = P.walk(built)
    return FrameTruth(keys=trail.keys_at(caplen), outer_tag=trail.outer_tag, flow=flow, case=case)
