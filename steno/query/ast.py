"""The tree a query parses to: what the planner turns into index look-ups.

One small frozen class per node.  Leaves map one to one onto the key types of
``docs/index-keys.md``: `Protocol` (type 1), `Port` (2), `Vlan` (3),
`AddressRange` (4 for IPv4, 6 for IPv6: the family *is* the key type), `Mpls`
(5).  `Before` and `After` are not keys: they bound packet times, exactly and
per packet, and let the planner skip whole files.  `And` and `Or` are n-ary.

Each class checks itself on construction, so a tree that exists is one the
planner can use without re-checking, and one that ``str()`` can write:

* numbers are ``int`` (not ``bool``) within the range the index can hold;
* an `AddressRange` is one CIDR block (a single address is a /32 or /128), so
  it is a range scan over consecutive keys; an IPv6 block inside
  ``::ffff:0:0/96`` must be written as the IPv4 block it maps (the parser does
  that, as Stenographer did);
* times are nanoseconds since the epoch within the years 0000 to 9999 (UTC);
* `And`/`Or` have two or more operands and are flat: an `And` never holds an
  `And` directly (nor an `Or` an `Or`).  ``a and b and c`` is one `And` of
  three; the planner never has to flatten.  `And.of`/`Or.of` build flat nodes.

Operands keep the order in which they were written; evaluation may reorder
them (intersection and union do not care).

``str(node)`` is a canonical query that parses back to an equal tree,
whatever ``now`` the parser is given: relative times are already resolved to
instants, written in UTC.  Compound operands are parenthesised, so the text
also reads right to people who assume ``and`` binds tighter than ``or`` (it
does not here: see ``docs/query-language.md``).
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar, Literal, TypeAlias, cast

import attrs

from steno.query.times import FIRST_NS, LAST_NS, format_rfc3339

_ALL_ONES = {4: (1 << 32) - 1, 6: (1 << 128) - 1}
_BITS = {4: 32, 6: 128}
# ::ffff:0.0.0.0/96, the IPv4-mapped IPv6 addresses.
MAPPED_FIRST = 0xFFFF << 32
MAPPED_LAST = MAPPED_FIRST | _ALL_ONES[4]


def _check_int(owner: object, name: str, value: object, low: int, high: int) -> None:
    if type(value) is not int:
        raise TypeError(f"{type(owner).__name__}.{name} must be an int, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{type(owner).__name__}.{name} must be {low}-{high}, not {value}")


@attrs.frozen
class AddressRange:
    """Packets with an IPv4 (``family`` 4) or IPv6 (6) address in [first, last], either way.

    ``host A`` is the block of one address; ``net A/N`` and ``net A mask M``
    (contiguous M) are the block A lies in.  Bounds are inclusive, as the
    index's range scan is.
    """

    family: Literal[4, 6]
    first: int
    last: int

    def __attrs_post_init__(self) -> None:
        if self.family not in (4, 6) or type(self.family) is not int:
            raise ValueError(f"AddressRange.family must be 4 or 6, not {self.family!r}")
        top = _ALL_ONES[self.family]
        _check_int(self, "first", self.first, 0, top)
        _check_int(self, "last", self.last, self.first, top)
        size = self.last - self.first + 1
        if size & (size - 1) or self.first & (size - 1):
            raise ValueError(f"{self!r} is not a CIDR block")
        if self.family == 6 and self.first >= MAPPED_FIRST and self.last <= MAPPED_LAST:
            raise ValueError(f"{self!r} is IPv4-mapped; use family 4")

    @property
    def prefix_length(self) -> int:
        """N of the block's ``A/N`` form (32 or 128 for a single address)."""
        return _BITS[self.family] - (self.last - self.first).bit_length()

    def __str__(self) -> str:
        first: ipaddress.IPv4Address | ipaddress.IPv6Address
        if self.family == 4:
            first = ipaddress.IPv4Address(self.first)
        else:
            first = ipaddress.IPv6Address(self.first)
        if self.first == self.last:
            return f"host {first}"
        return f"net {first}/{self.prefix_length}"


@attrs.frozen
class Port:
    """Packets with transport source or destination port ``number`` (key type 2)."""

    number: int

    def __attrs_post_init__(self) -> None:
        _check_int(self, "number", self.number, 0, 65_535)

    def __str__(self) -> str:
        return f"port {self.number}"


_PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}


@attrs.frozen
class Protocol:
    """Packets whose IPv4 protocol or final IPv6 next header is ``number`` (key type 1)."""

    number: int

    def __attrs_post_init__(self) -> None:
        _check_int(self, "number", self.number, 0, 255)

    def __str__(self) -> str:
        return _PROTOCOL_NAMES.get(self.number, f"ip proto {self.number}")


@attrs.frozen
class Vlan:
    """Packets carrying 802.1Q/802.1ad VLAN id ``number`` in any tag (key type 3)."""

    number: int

    def __attrs_post_init__(self) -> None:
        _check_int(self, "number", self.number, 0, 4095)

    def __str__(self) -> str:
        return f"vlan {self.number}"


@attrs.frozen
class Mpls:
    """Packets with MPLS label ``number`` anywhere in the label stack (key type 5)."""

    number: int

    def __attrs_post_init__(self) -> None:
        _check_int(self, "number", self.number, 0, (1 << 20) - 1)

    def __str__(self) -> str:
        return f"mpls {self.number}"


@attrs.frozen
class Before:
    """Packets captured strictly before ``time_ns`` (nanoseconds since the epoch, UTC).

    Exclusive, so that ``after T1 and before T2`` and ``after T2 and before T3``
    are adjacent windows sharing no packet.
    """

    time_ns: int

    def __attrs_post_init__(self) -> None:
        _check_int(self, "time_ns", self.time_ns, FIRST_NS, LAST_NS)

    def __str__(self) -> str:
        return f"before {format_rfc3339(self.time_ns)}"


@attrs.frozen
class After:
    """Packets captured at or after ``time_ns`` (nanoseconds since the epoch, UTC).

    Inclusive: ``after T`` keeps a packet stamped exactly T (see `Before`).
    """

    time_ns: int

    def __attrs_post_init__(self) -> None:
        _check_int(self, "time_ns", self.time_ns, FIRST_NS, LAST_NS)

    def __str__(self) -> str:
        return f"after {format_rfc3339(self.time_ns)}"


@attrs.frozen
class _Connective:
    """What `And` and `Or` share: two or more operands, none of the node's own class."""

    operands: tuple[Node, ...]
    word: ClassVar[str]

    def __attrs_post_init__(self) -> None:
        name = type(self).__name__
        if type(self.operands) is not tuple or len(self.operands) < 2:
            raise ValueError(f"{name} needs a tuple of two or more operands, not {self.operands!r}")
        for operand in self.operands:
            if not isinstance(operand, _NODE_CLASSES):
                raise TypeError(f"{name} operand {operand!r} is not a query node")
            if type(operand) is type(self):
                raise ValueError(f"{name} directly inside {name}; flatten it ({name}.of does)")

    @classmethod
    def of(cls, *operands: Node) -> Node:
        """The flat node for ``operands`` joined by this connective; one operand is itself."""
        flat: list[Node] = []
        for operand in operands:
            flat.extend(operand.operands if isinstance(operand, cls) else (operand,))
        if not flat:
            raise ValueError(f"{cls.__name__}.of needs at least one operand")
        return flat[0] if len(flat) == 1 else cast("Node", cls(tuple(flat)))

    def __str__(self) -> str:
        return f" {self.word} ".join(
            f"({operand})" if isinstance(operand, _Connective) else str(operand)
            for operand in self.operands
        )


@attrs.frozen
class And(_Connective):
    """Packets matching every operand (intersection)."""

    word: ClassVar[str] = "and"


@attrs.frozen
class Or(_Connective):
    """Packets matching at least one operand (union)."""

    word: ClassVar[str] = "or"


Node: TypeAlias = AddressRange | Port | Protocol | Vlan | Mpls | Before | After | And | Or
_NODE_CLASSES = (AddressRange, Port, Protocol, Vlan, Mpls, Before, After, And, Or)
