"""The parser against every case of reference §9.2 and §9.3, the limits, and random input.

Where steno differs from Stenographer on purpose, the row says so ("differs");
docs/query-language.md gives the reasons.  Error positions are the first
character of the offending token (Stenographer reported the one after it).
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
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
    QuerySyntaxError,
    Vlan,
    parse,
)
from steno.query.parse import MAX_NESTING, MAX_QUERY_LENGTH
from steno.query.times import NS_PER_HOUR, NS_PER_MINUTE, NS_PER_SECOND, datetime_to_ns
from tests.query.strategies import nodes, query_like_text

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
NOW_NS = datetime_to_ns(NOW)
T = 1420118055 * NS_PER_SECOND  # 2015-01-01T13:14:15Z
TCP, UDP, ICMP = Protocol(6), Protocol(17), Protocol(1)


def net(cidr: str) -> AddressRange:
    block = ipaddress.ip_network(cidr, strict=False)
    first, last = int(block.network_address), int(block.broadcast_address)
    return AddressRange(4, first, last) if block.version == 4 else AddressRange(6, first, last)


host = net


def ok(text: str) -> Node:
    return parse(text, now=NOW)


def fails(text: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text, now=NOW)
    return caught.value


# -- §9.2, upstream's own test cases

UPSTREAM_VALID: list[tuple[str, Node]] = [
    ("net 1.2.3.4/8", net("1.0.0.0/8")),
    ("net 1.2.3.4 mask 255.255.254.0", net("1.2.2.0/23")),
    ("host 1.2.3.4", host("1.2.3.4")),
    ("port 80", Port(80)),
    ("ip proto 6", TCP),
    ("tcp", TCP),
    ("udp", UDP),
    ("icmp", ICMP),
    ("before 45m ago", Before(NOW_NS - 45 * NS_PER_MINUTE)),
    ("after 3h ago", After(NOW_NS - 3 * NS_PER_HOUR)),
    ("after 2015-01-01T13:14:15Z", After(T)),
    ("before 2015-01-01T13:14:15+01:00", Before(T - NS_PER_HOUR)),
    ("host 1.2.3.4 and port 255", And((host("1.2.3.4"), Port(255)))),
    (
        "(port 80 or (host 1.2.3.4 and tcp) or port 7)",
        Or((Port(80), And((host("1.2.3.4"), TCP)), Port(7))),
    ),
    # Equal precedence, left to right: ((udp and port 514) or tcp) and port 80.
    (
        "udp and port 514 or tcp and port 80",
        And((Or((And((UDP, Port(514))), TCP)), Port(80))),
    ),
    (
        "(udp && port 514) or (tcp and port 80)",
        Or((And((UDP, Port(514))), And((TCP, Port(80))))),
    ),
    (
        "(port 80 && after 2015-01-01T13:14:15Z) || (host 1.2.3.4 && before 2015-01-01T13:14:15Z)",
        Or((And((Port(80), After(T))), And((host("1.2.3.4"), Before(T))))),
    ),
]


@pytest.mark.parametrize(("text", "node"), UPSTREAM_VALID)
def test_upstream_valid(text: str, node: Node) -> None:
    assert ok(text) == node


# (query, message, token): the message starts with the given text.
UPSTREAM_INVALID = [
    ("host 1.2.3", 'bad IP address "1.2.3" at character 5', "1.2.3"),
    (
        "net 1.2.3.4/44",
        'invalid prefix length "44" at character 12: must be 0-32 for IPv4',
        "44",
    ),
    ("port 8 and port 77777", 'invalid port "77777" at character 16: must be 0-65535', "77777"),
    ("port 77777 and port 8", 'invalid port "77777" at character 5: must be 0-65535', "77777"),
    ("protocol -1", 'unexpected "protocol" at character 0: expected host, net,', "protocol"),
    ("protocol 256", 'unexpected "protocol" at character 0', "protocol"),
    ("last 4", 'unexpected "last" at character 0', "last"),
]


@pytest.mark.parametrize(("text", "message", "token"), UPSTREAM_INVALID)
def test_upstream_invalid(text: str, message: str, token: str) -> None:
    err = fails(text)
    assert str(err).startswith(message)
    assert err.token == token
    assert err.position == text.index(token)


# -- §9.3, probes of upstream's parser; "differs" marks a deliberate difference

PROBES_VALID: list[tuple[str, Node]] = [
    ("host ::1", host("::1")),
    ("host 2001:db8::1", host("2001:db8::1")),
    ("host fe80::1", host("fe80::1")),
    ("host FE80::1", host("fe80::1")),  # differs: upstream's syntax error
    ("host Fe80::aBcD", host("fe80::abcd")),  # differs
    ("host ::ffff:1.2.3.4", host("1.2.3.4")),
    ("net ::ffff:1.2.3.0/120", net("1.2.3.0/24")),  # the same rule for blocks
    ("net ::ffff:0:0/96", net("0.0.0.0/0")),
    ("net ::fffe:0:0/95", net("::fffe:0:0/95")),  # more than mapped: stays IPv6
    ("net 1.2.3.4/0", net("0.0.0.0/0")),
    ("net 1.2.3.4/32", host("1.2.3.4")),
    ("net 1.2.3.4 / 24", net("1.2.3.0/24")),
    ("net 2001:db8::/32", net("2001:db8::/32")),
    ("net 2001:db8:: mask ffff:ffff::", net("2001:db8::/32")),
    ("net ::/0", net("::/0")),
    ("net 1.2.3.4 mask 0.0.0.0", net("0.0.0.0/0")),
    ("net 1.2.3.4 mask 255.255.255.255", host("1.2.3.4")),
    ("port 0", Port(0)),
    ("port 65535", Port(65535)),
    ("vlan 0", Vlan(0)),
    ("vlan 4095", Vlan(4095)),
    ("mpls 0", Mpls(0)),
    ("mpls 1048575", Mpls(1048575)),
    ("ip proto 0", Protocol(0)),
    ("ip proto 255", Protocol(255)),
    ("ip proto 58", Protocol(58)),
    ("ipproto 6", TCP),  # kept: keywords run together
    ("ip  proto   6", TCP),
    ("tcpand udp", And((TCP, UDP))),
    ("tcp&&udp", And((TCP, UDP))),
    ("tcp||udp", Or((TCP, UDP))),
    ("tcp\nand\tudp\n", And((TCP, UDP))),
    ("host1.2.3.4", host("1.2.3.4")),  # kept: a keyword run into its value
    ("port80", Port(80)),
    ("(tcp)", TCP),
    ("((tcp))", TCP),
    ("after 90m ago", After(NOW_NS - 90 * NS_PER_MINUTE)),
    ("after 0m ago", After(NOW_NS)),
    ("after 9999h ago", After(NOW_NS - 9999 * NS_PER_HOUR)),
    ("after 45mago", After(NOW_NS - 45 * NS_PER_MINUTE)),  # kept
    ("after 007m ago", After(NOW_NS - 7 * NS_PER_MINUTE)),
    ("after 2015-01-01T13:14:15.123Z", After(T + 123_000_000)),
    ("after 2015-01-01T13:14:15.123456789Z", After(T + 123_456_789)),
    ("after 2015-01-01T13:14:15-0700", After(T + 7 * NS_PER_HOUR)),  # differs
    ("after 2015-01-01t13:14:15z", After(T)),  # differs
    ("before 2100-01-01T00:00:00Z", Before(4102444800 * NS_PER_SECOND)),
    ("port 80 or port 443 and host 1.2.3.4", And((Or((Port(80), Port(443))), host("1.2.3.4")))),
    ("port 53 and (udp or tcp)", And((Port(53), Or((UDP, TCP))))),
]


@pytest.mark.parametrize(("text", "node"), PROBES_VALID)
def test_probes_valid(text: str, node: Node) -> None:
    assert ok(text) == node


# (query, token, message start).  The position is where the token is (its first
# occurrence unless the row gives the position as a fourth item).
PROBES_INVALID: list[tuple[str, str, str] | tuple[str, str, str, int]] = [
    ("host google.com", "google.com", 'bad IP address "google.com" at character 5: host names'),
    ("src host 1.2.3.4", "src", 'unexpected "src" at character 0'),
    ("not tcp", "not", 'unexpected "not" at character 0'),
    ("!tcp", "!tcp", 'unexpected "!tcp" at character 0'),
    ("ip6", "ip6", 'unexpected "ip6" at character 0'),
    ("icmp6", "icmp6", 'unexpected "icmp6" at character 0'),
    ("ether host 1.2.3.4", "ether", 'unexpected "ether" at character 0'),
    ("udp port 53", "port", 'unexpected "port" at character 4: expected "and", "or" or the end'),
    ("proto 6", "proto", 'unexpected "proto" at character 0'),
    ("ip 6", "6", 'unexpected "6" at character 3: expected "proto"'),
    ("host 1.2.3.4/24", "/", 'unexpected "/" at character 12'),
    ("net 1.2.3.4/33", "33", 'invalid prefix length "33" at character 12: must be 0-32'),
    ("net ::/129", "129", 'invalid prefix length "129" at character 7: must be 0-128'),
    ("net 1.2.3.4 mask ffff::", "ffff::", 'bad mask "ffff::" at character 17: an IPv6 mask'),
    ("net ::1 mask 255.0.0.0", "255.0.0.0", 'bad mask "255.0.0.0" at character 13: an IPv4 mask'),
    # differs: upstream answered with a superset, 1.0.3.0 - 1.255.3.255
    ("net 1.2.3.4 mask 255.0.255.0", "255.0.255.0", 'bad mask "255.0.255.0" at character 17'),
    ("net ::1 mask ffff::ffff", "ffff::ffff", 'bad mask "ffff::ffff" at character 13: not cont'),
    ("net 1.2.3.4", "", 'unexpected end of query at character 11: expected "/"'),
    ("net 1.2.3.4 and tcp", "and", 'unexpected "and" at character 12: expected "/"'),
    ("net 1.2.3.4/", "", "unexpected end of query at character 12: expected a prefix length"),
    ("port 65536", "65536", 'invalid port "65536" at character 5: must be 0-65535'),
    ("port 99999999999999999999999", "99999999999999999999999", "invalid port"),
    ("port -1", "-1", 'invalid port "-1" at character 5: must be 0-65535'),
    ("port 080", "080", 'invalid port "080" at character 5: leading zeros'),  # differs
    ("port 00", "00", 'invalid port "00" at character 5: leading zeros'),  # differs
    ("port 8a", "8a", 'invalid port "8a" at character 5: expected a decimal number'),
    ("port 0x50", "0x50", 'invalid port "0x50" at character 5: hexadecimal'),  # differs
    ("port 8080,8081", "8080,8081", 'invalid port "8080,8081" at character 5: one number'),
    ("port ٨٠", "٨٠", 'invalid port "٨٠" at character 5: expected a decimal number'),
    ("vlan 4096", "4096", 'invalid VLAN id "4096" at character 5: must be 0-4095'),  # differs
    ("vlan 65535", "65535", 'invalid VLAN id "65535"'),  # differs
    ("vlan 65536", "65536", 'invalid VLAN id "65536"'),
    ("mpls 1048576", "1048576", 'invalid MPLS label "1048576" at character 5: must be 0-1048575'),
    ("ip proto 256", "256", 'invalid protocol "256" at character 9: must be 0-255'),
    ("TCP", "TCP", 'unexpected "TCP" at character 0'),
    # differs: upstream ran "tcp" alone for these four
    ("tcp AND udp", "AND", 'unexpected "AND" at character 4: expected "and", "or" or the end'),
    ("tcp Or udp", "Or", 'unexpected "Or" at character 4'),
    ("tcp & udp", "&", 'unexpected "&" at character 4'),
    ("tcp | udp", "|", 'unexpected "|" at character 4'),
    ("tcpdump", "tcpdump", 'unexpected "tcpdump" at character 0'),  # differs
    # differs: upstream ran the leading primitive alone
    ("port 80 junk", "junk", 'unexpected "junk" at character 8'),
    ("host 1.2.3.4 zzz", "zzz", 'unexpected "zzz" at character 13'),
    ("port 80 @ and port 81", "@", 'unexpected "@" at character 8'),
    ("host 1.2.3.4;", "1.2.3.4;", 'bad IP address "1.2.3.4;" at character 5'),
    ("host fe80::1%eth0", "fe80::1%eth0", 'bad IP address "fe80::1%eth0" at character 5: zone'),
    ("port 80 and @", "@", 'unexpected "@" at character 12: expected host, net,'),
    ("hostx 1.2.3.4", "hostx", 'unexpected "hostx" at character 0'),
    ("", "", "empty query at character 0: expected host, net, port, ip proto, tcp,"),
    (" ", "", "empty query at character 1", 1),
    ("()", ")", 'unexpected ")" at character 1: expected host, net,'),
    ("(tcp", "", 'unexpected end of query at character 4: expected "and", "or" or ")"'),
    ("tcp)", ")", 'unexpected ")" at character 3: expected "and", "or" or the end of the query'),
    ("tcp or", "", "unexpected end of query at character 6: expected host, net,"),
    ("and tcp", "and", 'unexpected "and" at character 0: expected host, net,'),
    ("host 1.2.3.4 and", "", "unexpected end of query at character 16"),
    ("host", "", "unexpected end of query at character 4: expected an IP address"),
    ("host and", "and", 'unexpected "and" at character 5: expected an IP address'),
    ("after 1h30m ago", "1h30m", 'bad duration "1h30m" at character 6: expected a whole number'),
    ("after 30s ago", "30s", 'bad duration "30s" at character 6'),
    ("after 1d ago", "1d", 'bad duration "1d" at character 6'),
    ("before 45M ago", "45M", 'bad duration "45M" at character 7'),
    ("after 3h", "", 'unexpected end of query at character 8: expected "ago"'),
    ("after 3h and tcp", "and", 'unexpected "and" at character 9: expected "ago"'),
    ("after 1.5h ago", "1.5h", 'bad duration "1.5h" at character 6'),
    ("after 1h30mago", "1h30mago", 'bad duration "1h30mago" at character 6'),
    ("after 45", "45", 'bad time "45" at character 6: expected a time like 2015-01-01T13:14:15Z'),
    ("after ago", "ago", 'unexpected "ago" at character 6: expected a time'),
    ("after 2015-01-01", "2015-01-01", 'bad time "2015-01-01" at character 6: a date alone'),
    ("after 2015-01-01T13:14:15", "2015-01-01T13:14:15", "bad time"),
    ("after 2015-02-29T13:14:15Z", "2015-02-29T13:14:15Z", "bad time"),
    ("after 2015-01-01T13:14:15.1234567891Z", "2015-01-01T13:14:15.1234567891Z", "bad time"),
    ("host 1.2.3.4.5", "1.2.3.4.5", 'bad IP address "1.2.3.4.5" at character 5'),
    ("host 001.002.003.004", "001.002.003.004", "bad IP address"),
    ("ago", "ago", 'unexpected "ago" at character 0'),
    ("mask 1.2.3.4", "mask", 'unexpected "mask" at character 0'),
    ("port 80 80", "80", 'unexpected "80" at character 8', 8),
]


@pytest.mark.parametrize("row", PROBES_INVALID, ids=lambda row: repr(row[0]))
def test_probes_invalid(row: tuple[str, str, str] | tuple[str, str, str, int]) -> None:
    text, token, message = row[:3]
    position = row[3] if len(row) == 4 else (text.index(token) if token else len(text))
    err = fails(text)
    assert str(err).startswith(message), str(err)
    assert (err.token, err.position) == (token, position)


def test_the_issue_example_message() -> None:
    assert str(fails("tcp AND udp")) == (
        'unexpected "AND" at character 4: expected "and", "or" or the end of the query;'
        " keywords are lower-case"
    )


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("not tcp", 'steno has no negation ("not", "!")'),
        ("!tcp", "steno has no negation"),
        ("src host 1.2.3.4", 'leave out "src"/"dst"'),
        ("proto 6", 'write "ip proto N"'),
        ("icmp6", 'ICMPv6 is "ip proto 58"'),
        ("tcp & udp", 'write "&&" or "and"'),
        ("tcp | udp", 'write "||" or "or"'),
        ("HOST 1.2.3.4", "keywords are lower-case"),
        ("host 1.2.3.4/24", 'only "net" takes a prefix length'),
    ],
)
def test_hints(text: str, hint: str) -> None:
    assert str(fails(text)).endswith(f"; {hint}") or f"; {hint} (" in str(fails(text))


def test_security_onion_form() -> None:
    text = (
        "before 2026-01-02T03:04:05Z and after 2026-01-02T02:04:05Z"
        " and host 10.0.0.1 and host 2001:db8::7 and port 51234 and port 443"
    )
    end = datetime_to_ns(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert ok(text) == And(
        (
            Before(end),
            After(end - NS_PER_HOUR),
            host("10.0.0.1"),
            host("2001:db8::7"),
            Port(51234),
            Port(443),
        )
    )


# -- structure


def test_runs_of_one_connective_are_flat_whatever_the_parentheses() -> None:
    a, b, c, d = Port(1), Port(2), Port(3), Port(4)
    flat = And((a, b, c, d))
    for text in [
        "port 1 and port 2 and port 3 and port 4",
        "(port 1 and port 2) and (port 3 and port 4)",
        "port 1 and (port 2 and (port 3 and port 4))",
        "((port 1 && port 2) and port 3) && port 4",
    ]:
        assert ok(text) == flat
    assert ok("port 1 or port 2 and port 3 or port 4") == Or((And((Or((a, b)), c)), d))
    assert ok("port 1 or (port 2 and port 3) or port 4") == Or((a, And((b, c)), d))


# -- time


def test_relative_times_share_one_now() -> None:
    assert ok("after 5m ago and before 5m ago") == And(
        (After(NOW_NS - 5 * NS_PER_MINUTE), Before(NOW_NS - 5 * NS_PER_MINUTE))
    )


def test_now_in_any_zone_is_the_same_instant() -> None:
    elsewhere = NOW.astimezone(timezone(timedelta(hours=-7, minutes=-30)))
    assert parse("after 1h ago", now=elsewhere) == ok("after 1h ago")


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse("tcp", now=datetime(2026, 1, 2))


def test_text_must_be_str() -> None:
    with pytest.raises(TypeError, match="not bytes"):
        parse(b"tcp", now=NOW)  # type: ignore[arg-type]


def test_a_duration_reaching_before_year_zero() -> None:
    err = fails("after 99999999h ago")
    assert str(err).startswith('bad duration "99999999h" at character 6: reaches before')
    assert ok("after 17000000h ago") == After(NOW_NS - 17_000_000 * NS_PER_HOUR)
    assert fails("before " + "9" * 500 + "m ago").position == 7


# -- limits


def test_longest_query_is_accepted_and_one_more_character_is_not() -> None:
    text = "tcp" + " or tcp" * ((MAX_QUERY_LENGTH - 3) // 7)
    text += " " * (MAX_QUERY_LENGTH - len(text))
    assert len(text) == MAX_QUERY_LENGTH
    node = ok(text)
    assert isinstance(node, Or) and len(node.operands) == (MAX_QUERY_LENGTH - 3) // 7 + 1
    err = fails(text + " ")
    assert (err.position, err.token) == (MAX_QUERY_LENGTH, "")
    assert str(err) == (
        f"query too long at character {MAX_QUERY_LENGTH}: "
        f"{MAX_QUERY_LENGTH + 1} characters; at most {MAX_QUERY_LENGTH}"
    )


def test_parentheses_nest_up_to_the_limit() -> None:
    deepest = "(" * MAX_NESTING + "tcp" + ")" * MAX_NESTING
    assert ok(deepest) == TCP
    err = fails("(" + deepest + ")")
    assert (err.position, err.token) == (MAX_NESTING, "(")
    assert str(err) == f"query nested too deeply at character {MAX_NESTING}: at most 100 levels"


def test_alternating_connectives_nest_up_to_the_limit() -> None:
    # Each change between "and" and "or" adds a level to the tree.
    words = ["and", "or"] * MAX_NESTING
    deepest = "tcp " + " ".join(f"{w} tcp" for w in words[: MAX_NESTING - 1])
    node = ok(deepest)
    depth = 1
    while isinstance(node, And | Or):
        node, depth = node.operands[0], depth + 1
    assert depth == MAX_NESTING
    err = fails(deepest + f" {words[MAX_NESTING - 1]} tcp")
    assert err.position == len(deepest) + 1
    assert str(err).startswith("query nested too deeply")


def test_parentheses_that_add_no_level_are_counted_once() -> None:
    # The tree of this query is MAX_NESTING deep, its parentheses MAX_NESTING - 1:
    # both limits hold, neither is spent twice.
    words = ["and", "or"] * MAX_NESTING
    deepest = "tcp " + " ".join(f"{w} tcp" for w in words[: MAX_NESTING - 1])
    wrapped = "(" * (MAX_NESTING - 1) + deepest + ")" * (MAX_NESTING - 1)
    assert ok(wrapped) == ok(deepest)
    assert ok("(((tcp and udp))) or icmp") == Or((And((TCP, UDP)), ICMP))


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("(" * MAX_QUERY_LENGTH, "query nested too deeply at character 100"),
        ("(" * (MAX_QUERY_LENGTH // 2) + ")" * (MAX_QUERY_LENGTH // 2), "query nested too deeply"),
        (" and ".join(["(tcp or udp)"] * 3800), And),
        (" or ".join(["tcp"] * 9000), Or),
        ("tcp and tcp or " * (MAX_QUERY_LENGTH // 16) + "tcp", "query nested too deeply"),
        ("x" * MAX_QUERY_LENGTH, 'unexpected "xxxx'),
        ("port " + "9" * (MAX_QUERY_LENGTH - 5), 'invalid port "9999'),
        ("port 0" + "0" * (MAX_QUERY_LENGTH - 6), 'invalid port "0000'),
        ("after " + "9" * (MAX_QUERY_LENGTH - 12) + "h ago", 'bad duration "9999'),
        ("after " + "0" * (MAX_QUERY_LENGTH - 12) + "h ago", After),
    ],
    ids=[
        "open",
        "balanced",
        "wide",
        "long",
        "alternating",
        "word",
        "number",
        "zeros",
        "duration",
        "zero-duration",
    ],
)
def test_absurd_input(text: str, outcome: str | type) -> None:
    """Huge or deep input gets an answer or a QuerySyntaxError, never a RecursionError."""
    assert len(text) <= MAX_QUERY_LENGTH
    if isinstance(outcome, str):
        assert str(fails(text)).startswith(outcome)
    else:
        assert isinstance(ok(text), outcome)


# -- random input


def check_error(text: str, err: QuerySyntaxError) -> None:
    assert err.query == text
    assert 0 <= err.position <= len(text)
    assert text[err.position : err.position + len(err.token)] == err.token
    assert "\n" not in str(err)
    assert f" at character {err.position}" in str(err)
    _line, pointer = err.caret().split("\n")
    assert pointer.strip(" ") and set(pointer.strip(" ")) == {"^"}


def parse_or_check(text: str) -> None:
    try:
        node = parse(text, now=NOW)
    except QuerySyntaxError as err:
        check_error(text, err)
    else:
        assert parse(str(node), now=NOW) == node  # canonical text is stable


@given(st.text())
@example("(" * 1000)
@example("\x00\u202e\U0010ffff")
def test_any_text_parses_or_raises_query_syntax_error(text: str) -> None:
    parse_or_check(text)


@given(query_like_text)
@example("host 1.2.3.4 and (port 80 or port 443")
def test_query_like_text_parses_or_raises_query_syntax_error(text: str) -> None:
    parse_or_check(text)


@given(
    nodes,
    st.sampled_from(["junk", "AND", "Or", "@", ";", "0x50", "80", "tcp", "(", "ago", "mask", "中"]),
)
def test_nothing_after_a_query_is_ever_ignored(node: Node, junk: str) -> None:
    text = str(node)
    err = fails(f"{text} {junk} and tcp")
    assert (err.position, err.token) == (len(text) + 1, junk)
