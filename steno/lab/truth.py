"""Ground truth: the index keys each generated frame must be found under.

A key is ``(KeyType, value)`` with the key types and numbering of
``docs/index-keys.md`` (upstream Stenographer's).  Values are integers: IPv4
addresses as 32-bit and IPv6 addresses as 128-bit numbers, so keys hash and
compare fast and map one to one onto what the C index stores.

On disk the truth is JSON lines, one object per frame, in frame order::

    {"seq": 7, "len": 1518, "flow": 3, "case": "ipv4/tcp",
     "outer_tag": {"tpid": 33024, "tci": 100},
     "keys": {"proto": [6], "port": [443, 51234], "vlan": [100],
              "ipv4": ["198.18.3.4", "198.19.0.7"]}}

``outer_tag`` is the tag the receiving kernel strips from the frame and reports
in ``tp_vlan_tci`` (null when it strips nothing); ``len`` is the frame's length
on the wire, with that tag.  The keys are those of the frame as captured.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Address, IPv6Address
from typing import IO

import attrs

from steno.lab.frames import Tag


class KeyType(enum.IntEnum):
    PROTO = 1
    PORT = 2
    VLAN = 3
    IPV4 = 4
    MPLS = 5
    IPV6 = 6

    @property
    def label(self) -> str:
        return self.name.lower()


Key = tuple[KeyType, int]


def format_key(key: Key) -> str:
    """``(KeyType.IPV4, n)`` → ``"ipv4 198.18.0.1"``."""
    kind, value = key
    return f"{kind.label} {_value_text(kind, value)}"


def _value_text(kind: KeyType, value: int) -> str:
    if kind is KeyType.IPV4:
        return str(IPv4Address(value))
    if kind is KeyType.IPV6:
        return str(IPv6Address(value))
    return str(value)


def _value_parse(kind: KeyType, text: str | int) -> int:
    if kind is KeyType.IPV4:
        return int(IPv4Address(text))
    if kind is KeyType.IPV6:
        return int(IPv6Address(text))
    return int(text)


@attrs.frozen
class FrameTruth:
    """What one frame is indexed under, and how the receiver changes it.

    Many frames share one FrameTruth (every packet of a flow direction does).
    """

    keys: frozenset[Key]
    outer_tag: Tag | None = None
    flow: int = -1
    case: str = ""

    def keys_of(self, kind: KeyType) -> list[int]:
        return sorted(v for k, v in self.keys if k is kind)

    def keys_json(self) -> dict[str, list[str | int]]:
        out: dict[str, list[str | int]] = {}
        for kind in KeyType:
            values = self.keys_of(kind)
            if values:
                if kind in (KeyType.IPV4, KeyType.IPV6):
                    out[kind.label] = [_value_text(kind, v) for v in values]
                else:
                    out[kind.label] = list(values)
        return out


@attrs.frozen
class TruthRecord:
    """One JSON line: a frame's position in the traffic and its truth."""

    seq: int
    length: int
    truth: FrameTruth


def write_truth_jsonl(out: IO[str], records: Iterable[TruthRecord]) -> int:
    """Writes records as JSON lines; returns how many.  The JSON of a shared
    FrameTruth is rendered once."""
    cache: dict[int, str] = {}
    n = 0
    for rec in records:
        tid = id(rec.truth)
        body = cache.get(tid)
        if body is None:
            t = rec.truth
            tag = (
                None if t.outer_tag is None else {"tpid": t.outer_tag.tpid, "tci": t.outer_tag.tci}
            )
            body = json.dumps(
                {"flow": t.flow, "case": t.case, "outer_tag": tag, "keys": t.keys_json()},
                separators=(",", ":"),
            )[1:]
            cache[tid] = body
        out.write(f'{{"seq":{rec.seq},"len":{rec.length},{body}\n')
        n += 1
    return n


def read_truth_jsonl(lines: IO[str]) -> Iterator[TruthRecord]:
    """Parses what write_truth_jsonl wrote."""
    for line in lines:
        if not line.strip():
            continue
        obj = json.loads(line)
        keys: set[Key] = set()
        for name, values in obj["keys"].items():
            kind = KeyType[name.upper()]
            keys.update((kind, _value_parse(kind, v)) for v in values)
        tag = obj.get("outer_tag")
        truth = FrameTruth(
            keys=frozenset(keys),
            outer_tag=None if tag is None else Tag(tci=int(tag["tci"]), tpid=int(tag["tpid"])),
            flow=int(obj.get("flow", -1)),
            case=str(obj.get("case", "")),
        )
        yield TruthRecord(seq=int(obj["seq"]), length=int(obj["len"]), truth=truth)
