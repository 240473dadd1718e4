"""Tree nodes: they check themselves, stay flat, and write text that parses back to them."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given

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
    parse,
)
from steno.query.times import FIRST_NS, LAST_NS, NS_PER_SECOND
from tests.query.strategies import nodes

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


def v4(first: str, last: str | None = None) -> AddressRange:
    return AddressRange(4, ip(first), ip(last or first))


def v6(first: str, last: str | None = None) -> AddressRange:
    return AddressRange(6, ip(first), ip(last or first))


T = 1420118055 * NS_PER_SECOND  # 2015-01-01T13:14:15Z


@pytest.mark.parametrize(
    ("node", "text"),
    [
        (v4("1.2.3.4"), "host 1.2.3.4"),
        (v4("1.0.0.0", "1.255.255.255"), "net 1.0.0.0/8"),
        (v4("0.0.0.0", "255.255.255.255"), "net 0.0.0.0/0"),
        (v4("1.2.3.4", "1.2.3.5"), "net 1.2.3.4/31"),
        (v6("2001:db8::1"), "host 2001:db8::1"),
        (v6("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), "net 2001:db8::/32"),
        (v6("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "net ::/0"),
        # Holds the IPv4-mapped block but more besides: stays IPv6.
        (v6("::fffe:0:0", "::ffff:ffff:ffff"), "net ::fffe:0:0/95"),
        (Port(80), "port 80"),
        (Protocol(6), "tcp"),
        (Protocol(17), "udp"),
        (Protocol(1), "icmp"),
        (Protocol(58), "ip proto 58"),
        (Vlan(4095), "vlan 4095"),
        (Mpls(1048575), "mpls 1048575"),
        (Before(T), "before 2015-01-01T13:14:15Z"),
        (After(T + 123_456_789), "after 2015-01-01T13:14:15.123456789Z"),
        (And((Port(80), Protocol(6))), "port 80 and tcp"),
        (Or((Port(80), Port(443), Port(8080))), "port 80 or port 443 or port 8080"),
        (And((Or((Protocol(17), Protocol(6))), Port(53))), "(udp or tcp) and port 53"),
        (
            Or((And((Port(1), Port(2))), And((Port(3), Port(4))))),
            "(port 1 and port 2) or (port 3 and port 4)",
        ),
    ],
)
def test_str(node: Node, text: str) -> None:
    assert str(node) == text
    assert parse(text, now=NOW) == node


@given(nodes)
def test_str_parses_back_to_the_same_tree_whatever_now(node: Node) -> None:
    text = str(node)
    assert parse(text, now=NOW) == node
    assert parse(text, now=NOW + timedelta(days=365, microseconds=1)) == node


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: AddressRange(5, 0, 0), ValueError),  # type: ignore[arg-type]
        (lambda: AddressRange(4, -1, 0), ValueError),
        (lambda: AddressRange(4, 0, 1 << 32), ValueError),
        (lambda: AddressRange(4, 2, 1), ValueError),  # empty
        (lambda: AddressRange(4, 0, 2), ValueError),  # three addresses
        (lambda: AddressRange(4, 1, 2), ValueError),  # two, not aligned
        (lambda: AddressRange(6, 0, (1 << 128)), ValueError),
        (lambda: AddressRange(6, ip("::ffff:1.2.3.4"), ip("::ffff:1.2.3.4")), ValueError),
        (lambda: AddressRange(4, True, True), TypeError),
        (lambda: AddressRange(4, 1.0, 1.0), TypeError),  # type: ignore[arg-type]
        (lambda: Port(65_536), ValueError),
        (lambda: Port(-1), ValueError),
        (lambda: Port("80"), TypeError),  # type: ignore[arg-type]
        (lambda: Protocol(256), ValueError),
        (lambda: Vlan(4096), ValueError),
        (lambda: Mpls(1 << 20), ValueError),
        (lambda: Before(LAST_NS + 1), ValueError),
        (lambda: After(FIRST_NS - 1), ValueError),
        (lambda: And((Port(1),)), ValueError),
        (lambda: And([Port(1), Port(2)]), ValueError),  # type: ignore[arg-type]
        (lambda: Or((Port(1), "port 2")), TypeError),  # type: ignore[arg-type]
        (lambda: And((Port(1), And((Port(2), Port(3))))), ValueError),  # not flat
        (lambda: Or((Or((Port(2), Port(3))), Port(1))), ValueError),
        (lambda: And.of(), ValueError),
    ],
)
def test_nodes_check_themselves(make: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        make()  # type: ignore[operator]


def test_flat_but_mixed_is_fine() -> None:
    inner = Or((Port(2), Port(3)))
    assert And((Port(1), inner)).operands == (Port(1), inner)


def test_of_flattens() -> None:
    a, b, c, d = Port(1), Port(2), Port(3), Port(4)
    assert And.of(a) == a
    assert And.of(a, b) == And((a, b))
    assert And.of(And((a, b)), And((c, d))) == And((a, b, c, d))
    assert And.of(a, Or((b, c))) == And((a, Or((b, c))))
    assert Or.of(Or((a, b)), c) == Or((a, b, c))


def test_prefix_length() -> None:
    assert v4("1.2.3.4").prefix_length == 32
    assert v4("10.0.0.0", "10.255.255.255").prefix_length == 8
    assert v6("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").prefix_length == 0
    assert v6("2001:db8::1").prefix_length == 128


def test_nodes_are_frozen_hashable_and_match() -> None:
    node = And((Port(80), v4("1.2.3.4")))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        node.operands = ()  # type: ignore[misc]
    assert len({node, And((Port(80), v4("1.2.3.4"))), Or((Port(80), v4("1.2.3.4")))}) == 2
    same_operands: list[Node] = [And((Port(1), Port(2))), Or((Port(1), Port(2)))]
    assert same_operands[0] != same_operands[1]
    match node:
        case And((Port(number), AddressRange(4, first, last))):
            assert (number, first, last) == (80, ip("1.2.3.4"), ip("1.2.3.4"))
        case _:
            pytest.fail("no match")
