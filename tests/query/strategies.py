"""Hypothesis strategies for query trees, and for text that looks like queries."""

from __future__ import annotations

from hypothesis import strategies as st

from steno.query import (
    AddressRange,
    After,
    And,
    Before,
    Mpls,
    Node,
    Or,
    Port,
    Protocol,
    Vlan,
)
from steno.query.ast import MAPPED_FIRST, MAPPED_LAST
from steno.query.lexer import KEYWORDS
from steno.query.times import FIRST_NS, LAST_NS


@st.composite
def address_ranges(draw: st.DrawFn) -> AddressRange:
    family = draw(st.sampled_from([4, 6]))
    bits = 32 if family == 4 else 128
    top = (1 << bits) - 1
    edges = [0, top] + ([MAPPED_FIRST, MAPPED_LAST, MAPPED_FIRST - 1] if family == 6 else [])
    address = draw(st.one_of(st.integers(0, top), st.sampled_from(edges)))
    special = [0, bits, bits - 1, 96 if family == 6 else 24]
    length = draw(st.one_of(st.sampled_from(special), st.integers(0, bits)))
    host_bits = (1 << (bits - length)) - 1
    first = address & ~host_bits
    last = first | host_bits
    if family == 6 and first >= MAPPED_FIRST and last <= MAPPED_LAST:
        return AddressRange(4, first - MAPPED_FIRST, last - MAPPED_FIRST)
    return AddressRange(4 if family == 4 else 6, first, last)


times = st.one_of(
    st.integers(FIRST_NS, LAST_NS),
    st.integers(0, 2**32 * 10**9),  # the years packets are captured in
    st.sampled_from([FIRST_NS, LAST_NS, 0, -1]),
)

leaves: st.SearchStrategy[Node] = st.one_of(
    address_ranges(),
    st.builds(Port, st.integers(0, 65_535)),
    st.builds(Protocol, st.integers(0, 255)),
    st.builds(Vlan, st.integers(0, 4095)),
    st.builds(Mpls, st.integers(0, (1 << 20) - 1)),
    st.builds(Before, times),
    st.builds(After, times),
)


def _connectives(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    operands = st.lists(children, min_size=2, max_size=4)
    return st.one_of(
        operands.map(lambda nodes: And.of(*nodes)), operands.map(lambda nodes: Or.of(*nodes))
    )


nodes: st.SearchStrategy[Node] = st.recursive(leaves, _connectives, max_leaves=24)

# Pieces of text that lex to something meaningful, or nearly: fuel for query-shaped garbage.
_PIECES = [
    *sorted(KEYWORDS),
    "&&",
    "||",
    "(",
    ")",
    "/",
    "&",
    "|",
    "AND",
    "TCP",
    "not",
    "tcpdump",
    "0",
    "80",
    "080",
    "0x50",
    "65536",
    "-1",
    "4096",
    "1.2.3.4",
    "1.2.3",
    "::1",
    "FE80::1",
    "fe80::1%eth0",
    "::ffff:1.2.3.4",
    "255.255.254.0",
    "255.0.255.0",
    "ffff::",
    "45m",
    "3h",
    "1h30m",
    "45mago",
    "2015-01-01T13:14:15Z",
    "2015-01-01T13:14:15.123456789+01:00",
    "2015-01-01",
    "9" * 30,
    "中",
    "\x1b",
    ";",
    ",",
]
_GAPS = st.sampled_from(["", " ", " ", " ", "  ", "\t", "\n", "\u00a0"])

query_like_text = st.lists(st.tuples(st.sampled_from(_PIECES), _GAPS), max_size=14).map(
    lambda parts: "".join(piece + gap for piece, gap in parts)
)
