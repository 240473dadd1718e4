"""Query text to tree: the grammar, what each primitive accepts, and the limits.

Pure: text (and the instant "now") in, a `Node` or a `QuerySyntaxError` out;
no I/O, no clock, no globals.  The grammar, over the tokens of ``lexer.py``::

    query = expr END
    expr  = term { ("and" | "&&" | "or" | "||") term }
    term  = "host" ADDRESS
          | "net" ADDRESS ( "/" NUMBER | "mask" ADDRESS )
          | "port" NUMBER | "ip" "proto" NUMBER | "tcp" | "udp" | "icmp"
          | "vlan" NUMBER | "mpls" NUMBER
          | ( "before" | "after" ) ( TIME | DURATION "ago" )
          | "(" expr ")"

``and`` and ``or`` have *equal* precedence and group left to right, as in
Stenographer, whose users' saved queries depend on it: ``udp and port 514 or
tcp and port 80`` is ``((udp and port 514) or tcp) and port 80``.  Giving
``and`` the tighter binding, as tcpdump does, would silently change what those
queries return.

The whole input must be one query.  Stenographer stopped at the first
character its lexer did not know and ran what came before (``port 80 junk``
ran ``port 80``; ``tcp AND udp`` ran ``tcp``); here anything left over is an
error naming it.  Values are checked where they are read, so an error names
the value and says what would have been right.

Recursion happens only for parentheses, and both the nesting of parentheses
and the depth of the resulting tree are capped (`MAX_NESTING`), as is the
length of the text (`MAX_QUERY_LENGTH`); past them the answer is a
QuerySyntaxError, never a RecursionError or a long stall.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime

from steno.query.ast import (
    MAPPED_FIRST,
    MAPPED_LAST,
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
from steno.query.errors import QuerySyntaxError, quote
from steno.query.lexer import KEYWORDS, Kind, Token, tokenize
from steno.query.times import (
    EXAMPLE,
    NS_PER_HOUR,
    NS_PER_MINUTE,
    BadTime,
    datetime_to_ns,
    in_range,
    parse_rfc3339,
)

# Far above any query a person or a tool writes (Security Onion's are a few
# hundred characters; a list of a thousand hosts is about 20,000), far below
# what could take the parser long.
MAX_QUERY_LENGTH = 65_536
# Levels of parentheses, and levels of the tree (each change between "and" and
# "or" adds one).  The planner and str() recurse over the tree too.
MAX_NESTING = 100

_PRIMITIVE = 'host, net, port, ip proto, tcp, udp, icmp, vlan, mpls, before, after or "("'
_AFTER_TERM = '"and", "or" or the end of the query'
_AFTER_TERM_IN_PARENS = '"and", "or" or ")"'
_TIME = f'a time like {EXAMPLE} or a duration like 45m then "ago"'

_DECIMAL = re.compile(r"[0-9]+")
_LIST = re.compile(r"[0-9]+(,[0-9]+)+")
_HEXADECIMAL = re.compile(r"0[xX][0-9a-fA-F]+")
_DURATION = re.compile(r"([0-9]+)([mh])")
_DURATION_LIKE = re.compile(r"[0-9][0-9.]*[A-Za-z][0-9A-Za-z.]*")
_HOST_NAME = re.compile(r"[A-Za-z0-9.-]*[g-zG-Z][A-Za-z0-9.-]*")

_NO_NEGATION = 'steno has no negation ("not", "!")'
_HINTS = {
    "not": _NO_NEGATION,
    "src": 'a primitive matches source and destination alike; leave out "src"/"dst"',
    "dst": 'a primitive matches source and destination alike; leave out "src"/"dst"',
    "proto": 'write "ip proto N"',
    "ip6": 'IPv6 traffic is "net ::/0"',
    "icmp6": 'ICMPv6 is "ip proto 58"',
    "&": 'write "&&" or "and"',
    "|": 'write "||" or "or"',
}


def _hint(token: Token) -> str:
    """A word of advice for a token that is wrong where it is, or ""."""
    text = token.text
    if token.kind is Kind.SLASH:
        return 'only "net" takes a prefix length'
    if text in _HINTS:
        return _HINTS[text]
    if text.startswith("!"):
        return _NO_NEGATION
    if text != text.lower() and text.lower() in KEYWORDS:
        return "keywords are lower-case"
    return ""


def _address_range(family: int, first: int, last: int) -> AddressRange:
    """The node for a block; an IPv6 block of IPv4-mapped addresses becomes IPv4, as upstream."""
    if family == 6 and first >= MAPPED_FIRST and last <= MAPPED_LAST:
        return AddressRange(4, first - MAPPED_FIRST, last - MAPPED_FIRST)
    return AddressRange(4 if family == 4 else 6, first, last)


class _Parser:
    """One parse of one text: a cursor over its tokens."""

    def __init__(self, text: str, now_ns: int) -> None:
        self._text = text
        self._tokens = tokenize(text)
        self._at = 0
        self._now_ns = now_ns

    # -- tokens and errors

    def _peek(self) -> Token:
        return self._tokens[self._at]

    def _next(self) -> Token:
        token = self._tokens[self._at]
        if token.kind is not Kind.END:
            self._at += 1
        return token

    def _error(self, token: Token, problem: str, detail: str = "") -> QuerySyntaxError:
        return QuerySyntaxError(
            problem, query=self._text, position=token.position, token=token.text, detail=detail
        )

    def _unexpected(self, token: Token, expected: str) -> QuerySyntaxError:
        if token.kind is Kind.END:
            problem = "unexpected end of query"
        else:
            problem = f"unexpected {quote(token.text)}"
        detail = f"expected {expected}"
        hint = _hint(token)
        return self._error(token, problem, f"{detail}; {hint}" if hint else detail)

    def _value(self, expected: str) -> Token:
        """The next token, which must be a word (a value) since a keyword took one."""
        token = self._next()
        if token.kind is not Kind.WORD:
            raise self._unexpected(token, expected)
        return token

    # -- structure

    def query(self) -> Node:
        if self._peek().kind is Kind.END:
            raise self._error(self._peek(), "empty query", f"expected {_PRIMITIVE}")
        node, _ = self._expr(0)
        rest = self._peek()
        if rest.kind is not Kind.END:
            raise self._unexpected(rest, _AFTER_TERM)
        return node

    def _expr(self, nesting: int) -> tuple[Node, int]:
        """One expr and its tree depth; runs of one connective become one flat node."""
        node, depth = self._term(nesting)
        connective: type[And] | type[Or] | None = None
        operands: list[Node] = []
        deepest = 0  # deepest operand of the node being built
        while self._peek().kind in (Kind.AND, Kind.OR):
            operator = self._next()
            wanted = And if operator.kind is Kind.AND else Or
            if wanted is not connective:
                if connective is not None:
                    node, depth = connective(tuple(operands)), deepest + 1
                connective, operands = wanted, []
                deepest = _add_operand(connective, operands, node, depth)
            right, right_depth = self._term(nesting)
            deepest = max(deepest, _add_operand(connective, operands, right, right_depth))
            if deepest + 1 > MAX_NESTING:
                raise self._error(
                    operator, "query nested too deeply", f"at most {MAX_NESTING} levels"
                )
        if connective is not None:
            node, depth = connective(tuple(operands)), deepest + 1
        return node, depth

    def _term(self, nesting: int) -> tuple[Node, int]:
        token = self._next()
        if token.kind is Kind.LPAREN:
            if nesting >= MAX_NESTING:
                raise self._error(token, "query nested too deeply", f"at most {MAX_NESTING} levels")
            node, depth = self._expr(nesting + 1)
            close = self._next()
            if close.kind is not Kind.RPAREN:
                raise self._unexpected(close, _AFTER_TERM_IN_PARENS)
            return node, depth
        if token.kind is Kind.KEYWORD:
            primitive = self._primitive(token.text)
            if primitive is not None:
                return primitive, 1
        raise self._unexpected(token, _PRIMITIVE)

    def _primitive(self, keyword: str) -> Node | None:
        match keyword:
            case "host":
                family, address = self._address(self._value("an IP address"), "IP address")
                return _address_range(family, address, address)
            case "net":
                return self._net()
            case "port":
                return Port(self._number(self._value("a port number"), "port", 65_535))
            case "ip":
                proto = self._next()
                if proto.kind is not Kind.KEYWORD or proto.text != "proto":
                    raise self._unexpected(proto, '"proto"')
                return Protocol(self._number(self._value("a protocol number"), "protocol", 255))
            case "tcp":
                return Protocol(6)
            case "udp":
                return Protocol(17)
            case "icmp":
                return Protocol(1)
            case "vlan":
                return Vlan(self._number(self._value("a VLAN id"), "VLAN id", 4095))
            case "mpls":
                return Mpls(self._number(self._value("an MPLS label"), "MPLS label", 0xFFFFF))
            case "before":
                return Before(self._time())
            case "after":
                return After(self._time())
        return None  # "ago", "mask", "proto": keywords that cannot start a term

    # -- values

    def _number(self, token: Token, what: str, high: int, *, detail: str = "") -> int:
        """A plain decimal number 0..high.

        Leading zeros and hexadecimal are refused rather than guessed at:
        Stenographer read ``010`` as 10 and ``0x50`` as 0 (ignoring "x50"),
        tcpdump reads them as 8 and 80.
        """
        text = token.text
        problem = f"invalid {what} {quote(text)}"
        limits = detail or f"must be 0-{high}"
        if _DECIMAL.fullmatch(text) is None:
            if _HEXADECIMAL.fullmatch(text):
                raise self._error(token, problem, f"hexadecimal is not supported; {limits}")
            if text.startswith("-") and _DECIMAL.fullmatch(text[1:]):
                raise self._error(token, problem, limits)
            if _LIST.fullmatch(text):
                raise self._error(token, problem, 'one number per primitive; join them with "or"')
            raise self._error(token, problem, f"expected a decimal number; {limits}")
        if len(text) > 1 and text.startswith("0"):
            raise self._error(
                token, problem, "leading zeros are not allowed (tcpdump reads them as octal)"
            )
        if len(text) > len(str(high)) or int(text) > high:
            raise self._error(token, problem, limits)
        return int(text)

    def _address(self, token: Token, what: str) -> tuple[int, int]:
        """(4 or 6, the address as an int) of an IPv4 or IPv6 literal."""
        text = token.text
        problem = f"bad {what} {quote(text)}"
        if "%" in text:
            raise self._error(token, problem, "zone indexes (like %eth0) are not supported")
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            if _HOST_NAME.fullmatch(text):
                detail = "host names are not supported; give an IP address"
            else:
                detail = "expected an IPv4 address like 192.0.2.1 or IPv6 like 2001:db8::1"
            raise self._error(token, problem, detail) from None
        return address.version, int(address)

    def _net(self) -> AddressRange:
        family, address = self._address(self._value("an IP address"), "IP address")
        bits = 32 if family == 4 else 128
        all_ones = (1 << bits) - 1
        separator = self._next()
        if separator.kind is Kind.SLASH:
            token = self._value("a prefix length")
            length = self._number(
                token, "prefix length", bits, detail=f"must be 0-{bits} for IPv{family}"
            )
            mask = all_ones ^ ((1 << (bits - length)) - 1)
        elif separator.kind is Kind.KEYWORD and separator.text == "mask":
            token = self._value("a mask")
            mask_family, mask = self._address(token, "mask")
            if mask_family != family:
                raise self._error(
                    token,
                    f"bad mask {quote(token.text)}",
                    f"an IPv{mask_family} mask for an IPv{family} address",
                )
            host_bits = all_ones ^ mask
            if host_bits & (host_bits + 1):
                # Stenographer matched [A & M, A | ~M], a superset; an exact
                # match would need a masked look-up that no one has asked for.
                raise self._error(
                    token,
                    f"bad mask {quote(token.text)}",
                    "not contiguous; a mask must be ones then zeros, like 255.255.254.0",
                )
        else:
            raise self._unexpected(separator, '"/" and a prefix length, or "mask"')
        first = address & mask
        return _address_range(family, first, first | (all_ones ^ mask))

    def _time(self) -> int:
        """Nanoseconds since the epoch of an RFC 3339 time or of ``<N>m ago`` / ``<N>h ago``."""
        token = self._value(_TIME)
        text = token.text
        duration = _DURATION.fullmatch(text)
        if duration is not None:
            ago = self._next()
            if ago.kind is not Kind.KEYWORD or ago.text != "ago":
                raise self._unexpected(ago, '"ago" after a duration')
            amount, unit = duration[1].lstrip("0"), duration[2]
            if len(amount) <= 20:
                ns = self._now_ns - int(amount or "0") * (
                    NS_PER_MINUTE if unit == "m" else NS_PER_HOUR
                )
                if in_range(ns):
                    return ns
            raise self._error(token, f"bad duration {quote(text)}", "reaches before the year 0000")
        if _DURATION_LIKE.fullmatch(text):
            raise self._error(
                token,
                f"bad duration {quote(text)}",
                'expected a whole number of minutes or hours, like 45m or 3h, then "ago"',
            )
        try:
            return parse_rfc3339(text)
        except BadTime as why:
            detail = str(why) if "-" in text or ":" in text else f"expected {_TIME}"
            raise self._error(token, f"bad time {quote(text)}", detail) from None


def _add_operand(
    connective: type[And] | type[Or], operands: list[Node], node: Node, depth: int
) -> int:
    """Append `node` to `operands` (its own operands if it is the same connective).

    Returns the depth the appended operands add to the node being built.
    """
    if isinstance(node, connective):
        operands.extend(node.operands)
        return depth - 1
    operands.append(node)
    return depth


def parse(text: str, *, now: datetime) -> Node:
    """The tree of the query `text`, or QuerySyntaxError naming what is wrong and where.

    `now` must be timezone-aware; every ``N m ago``/``N h ago`` in the query is
    counted back from it (one instant for the whole query, so ``after 5m ago
    and before 5m ago`` is empty, not a race).  A naive `now` is a programming
    error (ValueError), not a QuerySyntaxError.
    """
    if not isinstance(text, str):
        raise TypeError(f"a query is text (str), not {type(text).__name__}")
    now_ns = datetime_to_ns(now)
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            "query too long",
            query=text,
            position=MAX_QUERY_LENGTH,
            token="",
            detail=f"{len(text)} characters; at most {MAX_QUERY_LENGTH}",
        )
    return _Parser(text, now_ns).query()
