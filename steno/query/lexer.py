"""Query text to tokens; never fails, so every complaint comes from the parser with context.

Words are what lies between whitespace (any Unicode whitespace) and the
punctuation ``( ) / && ||``.  A word that is exactly a keyword is that keyword
(keywords are lower-case, as in Stenographer); any other word is a WORD token
whose meaning (address, number, time, or nonsense) the parser decides, because
only it knows what it expects there and can say so.  A lone ``&`` or ``|`` is a
WORD too: the parser rejects it by name.

Stenographer's lexer matched keywords as *prefixes* with no word boundary and
turned the first character it did not know into the end of the query.  The
second half of that made ``tcpdump`` mean ``tcp`` and ``tcp AND udp`` mean
``tcp``: the query answered a different question than the one asked.  steno
keeps the harmless half.  A word that reads *completely* as keywords run
together is split into them, and a keyword that takes a value (``host``,
``net``, ``mask``, ``port``, ``proto``, ``vlan``, ``mpls``, ``before``,
``after``) may run straight into a value that starts with a digit or a colon::

    host1.2.3.4   port80   ipproto 6   tcpand udp   before45m ago

are read as if spaced.  A word with anything left over (``tcpdump``,
``hostx``, ``protocol``, ``icmp6``) stays one word, which the parser then
rejects as written.  Stenographer also ended a duration at its unit, so
``45mago`` was ``45m ago``; a word of exactly that shape is split the same way.
"""

from __future__ import annotations

import enum
import re

import attrs

KEYWORDS = frozenset(
    {
        "after",
        "ago",
        "and",
        "before",
        "host",
        "icmp",
        "ip",
        "mask",
        "mpls",
        "net",
        "or",
        "port",
        "proto",
        "tcp",
        "udp",
        "vlan",
    }
)
# Keywords followed by a value, which may be glued to them if it starts with a
# digit or a colon.  (A value starting with a letter, like fe80::1, may not:
# "hostfe80::1" is too close to "hostx" to guess.)
TAKES_VALUE = frozenset({"after", "before", "host", "mask", "mpls", "net", "port", "proto", "vlan"})
# No keyword is a prefix of another (a test checks it), so a word splits into
# keywords in at most one way and `_keyword_at` can take the first match.

_PUNCTUATION = "()/&|"
_VALUE_START = frozenset("0123456789:")
_GLUED_AGO = re.compile(r"([0-9]+[mh])(ago)")


class Kind(enum.Enum):
    WORD = "word"  # a value, or something the parser will reject
    KEYWORD = "keyword"  # every keyword except the two below
    AND = "and"  # "and" or "&&"
    OR = "or"  # "or" or "||"
    LPAREN = "("
    RPAREN = ")"
    SLASH = "/"
    END = "end"  # text "", position len(query)


@attrs.frozen
class Token:
    """One token: its kind, its text exactly as written, and where that text starts."""

    kind: Kind
    text: str
    position: int


def _keyword_kind(word: str) -> Kind:
    return Kind.AND if word == "and" else Kind.OR if word == "or" else Kind.KEYWORD


def _keyword_at(word: str, start: int) -> str | None:
    for keyword in KEYWORDS:
        if word.startswith(keyword, start):
            return keyword
    return None


def _value(word: str, position: int) -> list[Token]:
    glued = _GLUED_AGO.fullmatch(word)
    if glued is not None:
        amount = glued[1]
        return [
            Token(Kind.WORD, amount, position),
            Token(Kind.KEYWORD, "ago", position + len(amount)),
        ]
    return [Token(Kind.WORD, word, position)]


def _split_word(word: str, position: int) -> list[Token]:
    """The tokens of one word: keywords run together, maybe ending in a value (see above)."""
    if word in KEYWORDS:
        return [Token(_keyword_kind(word), word, position)]
    tokens: list[Token] = []
    at = 0
    while (keyword := _keyword_at(word, at)) is not None:
        tokens.append(Token(_keyword_kind(keyword), keyword, position + at))
        at += len(keyword)
        if at == len(word):
            return tokens
        if keyword in TAKES_VALUE and word[at] in _VALUE_START:
            return tokens + _value(word[at:], position + at)
    if at == 0:
        return _value(word, position)
    return [Token(Kind.WORD, word, position)]  # keywords with something else left over


def tokenize(text: str) -> list[Token]:
    """All tokens of `text`, ending with one END token; any text at all is accepted."""
    tokens: list[Token] = []
    at = 0
    length = len(text)
    while at < length:
        char = text[at]
        if char.isspace():
            at += 1
        elif char in "()/":
            kind = {"(": Kind.LPAREN, ")": Kind.RPAREN, "/": Kind.SLASH}[char]
            tokens.append(Token(kind, char, at))
            at += 1
        elif text.startswith("&&", at) or text.startswith("||", at):
            tokens.append(Token(Kind.AND if char == "&" else Kind.OR, char * 2, at))
            at += 2
        elif char in "&|":
            tokens.append(Token(Kind.WORD, char, at))
            at += 1
        else:
            end = at + 1
            while end < length and not text[end].isspace() and text[end] not in _PUNCTUATION:
                end += 1
            tokens.extend(_split_word(text[at:end], at))
            at = end
    tokens.append(Token(Kind.END, "", length))
    return tokens
