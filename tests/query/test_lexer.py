"""The lexer: words, punctuation, and which glued keywords are split (and which are not)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steno.query.lexer import KEYWORDS, TAKES_VALUE, Kind, Token, tokenize

W, K, AN, OR = Kind.WORD, Kind.KEYWORD, Kind.AND, Kind.OR
L, R, S = Kind.LPAREN, Kind.RPAREN, Kind.SLASH


def lex(text: str) -> list[tuple[Kind, str, int]]:
    """Tokens as (kind, text, position), without the END token (checked separately)."""
    tokens = tokenize(text)
    assert tokens[-1] == Token(Kind.END, "", len(text))
    assert all(token.kind is not Kind.END for token in tokens[:-1])
    return [(token.kind, token.text, token.position) for token in tokens[:-1]]


def test_no_keyword_is_a_prefix_of_another() -> None:
    # The splitting of glued words relies on it (one way to split at most).
    assert not [(a, b) for a in KEYWORDS for b in KEYWORDS if a != b and b.startswith(a)]
    assert TAKES_VALUE <= KEYWORDS


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", []),
        ("  \t\n ", []),
        ("host 1.2.3.4", [(K, "host", 0), (W, "1.2.3.4", 5)]),
        ("net 1.2.3.4/8", [(K, "net", 0), (W, "1.2.3.4", 4), (S, "/", 11), (W, "8", 12)]),
        ("net ::/0", [(K, "net", 0), (W, "::", 4), (S, "/", 6), (W, "0", 7)]),
        ("ip proto 6", [(K, "ip", 0), (K, "proto", 3), (W, "6", 9)]),
        ("(tcp)", [(L, "(", 0), (K, "tcp", 1), (R, ")", 4)]),
        ("tcp and udp", [(K, "tcp", 0), (AN, "and", 4), (K, "udp", 8)]),
        ("tcp or udp", [(K, "tcp", 0), (OR, "or", 4), (K, "udp", 7)]),
        ("tcp&&udp", [(K, "tcp", 0), (AN, "&&", 3), (K, "udp", 5)]),
        ("tcp||udp", [(K, "tcp", 0), (OR, "||", 3), (K, "udp", 5)]),
        ("tcp\nand\tudp\n", [(K, "tcp", 0), (AN, "and", 4), (K, "udp", 8)]),
        ("ip  proto   6", [(K, "ip", 0), (K, "proto", 4), (W, "6", 12)]),
        ("after 45m ago", [(K, "after", 0), (W, "45m", 6), (K, "ago", 10)]),
        (
            "before 2015-01-01T13:14:15+01:00",
            [(K, "before", 0), (W, "2015-01-01T13:14:15+01:00", 7)],
        ),
        # Unicode whitespace separates words too; positions count code points.
        ("tcp\u00a0and\u3000udp", [(K, "tcp", 0), (AN, "and", 4), (K, "udp", 8)]),
        ("中 tcp", [(W, "中", 0), (K, "tcp", 2)]),
        # Anything else is part of a word, for the parser to name.
        ("port 8080,8081", [(K, "port", 0), (W, "8080,8081", 5)]),
        ("host 1.2.3.4;", [(K, "host", 0), (W, "1.2.3.4;", 5)]),
        ("host fe80::1%eth0", [(K, "host", 0), (W, "fe80::1%eth0", 5)]),
        ("port 80 @ and", [(K, "port", 0), (W, "80", 5), (W, "@", 8), (AN, "and", 10)]),
        ("!tcp", [(W, "!tcp", 0)]),
        ("tcp & udp", [(K, "tcp", 0), (W, "&", 4), (K, "udp", 6)]),
        ("tcp | udp", [(K, "tcp", 0), (W, "|", 4), (K, "udp", 6)]),
        ("&&&", [(AN, "&&", 0), (W, "&", 2)]),
        ("|||", [(OR, "||", 0), (W, "|", 2)]),
        # Keywords are lower-case.
        ("tcp AND udp", [(K, "tcp", 0), (W, "AND", 4), (K, "udp", 8)]),
        ("TCP", [(W, "TCP", 0)]),
        # IPv6 words that begin with hex letters are never read as keywords
        # (every keyword has a letter beyond f).
        ("host fe80::1", [(K, "host", 0), (W, "fe80::1", 5)]),
        ("host FE80::1", [(K, "host", 0), (W, "FE80::1", 5)]),
        ("mask ffff::", [(K, "mask", 0), (W, "ffff::", 5)]),
        ("add::1 bad:: cafe::", [(W, "add::1", 0), (W, "bad::", 7), (W, "cafe::", 13)]),
    ],
)
def test_tokens(text: str, tokens: list[tuple[Kind, str, int]]) -> None:
    assert lex(text) == tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        # Kept from Stenographer: keywords run together, or a value-taking
        # keyword run into a value starting with a digit or a colon.
        ("host1.2.3.4", [(K, "host", 0), (W, "1.2.3.4", 4)]),
        ("host::1", [(K, "host", 0), (W, "::1", 4)]),
        ("port80", [(K, "port", 0), (W, "80", 4)]),
        ("ipproto 6", [(K, "ip", 0), (K, "proto", 2), (W, "6", 8)]),
        ("ipproto6", [(K, "ip", 0), (K, "proto", 2), (W, "6", 7)]),
        ("tcpand udp", [(K, "tcp", 0), (AN, "and", 3), (K, "udp", 7)]),
        ("tcporudp", [(K, "tcp", 0), (OR, "or", 3), (K, "udp", 5)]),
        ("net1.2.3.0/24", [(K, "net", 0), (W, "1.2.3.0", 3), (S, "/", 10), (W, "24", 11)]),
        ("vlan7", [(K, "vlan", 0), (W, "7", 4)]),
        ("before45m ago", [(K, "before", 0), (W, "45m", 6), (K, "ago", 10)]),
        ("after 45mago", [(K, "after", 0), (W, "45m", 6), (K, "ago", 9)]),
        ("after45hago", [(K, "after", 0), (W, "45h", 5), (K, "ago", 8)]),
        ("hostand", [(K, "host", 0), (AN, "and", 4)]),
        # Not split: something that is not a keyword is left over.
        ("tcpdump", [(W, "tcpdump", 0)]),
        ("hostx 1.2.3.4", [(W, "hostx", 0), (W, "1.2.3.4", 6)]),
        ("protocol -1", [(W, "protocol", 0), (W, "-1", 9)]),
        ("portal", [(W, "portal", 0)]),
        # Not split: these keywords take no value, so a digit is left over.
        ("icmp6", [(W, "icmp6", 0)]),
        ("ip6", [(W, "ip6", 0)]),
        ("tcp80", [(W, "tcp80", 0)]),
        # Not split: a value glued on must start with a digit or a colon.
        ("hostfe80::1", [(W, "hostfe80::1", 0)]),
        ("port-1", [(W, "port-1", 0)]),
        # Not split: "ago" glued only right after a whole duration.
        ("after 1h30mago", [(K, "after", 0), (W, "1h30mago", 6)]),
        ("after 45magox", [(K, "after", 0), (W, "45magox", 6)]),
        ("after 45Mago", [(K, "after", 0), (W, "45Mago", 6)]),
        ("45m", [(W, "45m", 0)]),
        # A value never ends at a keyword inside it.
        ("1.2.3.4and", [(W, "1.2.3.4and", 0)]),
    ],
)
def test_glued_words(text: str, tokens: list[tuple[Kind, str, int]]) -> None:
    assert lex(text) == tokens


@given(st.text())
def test_any_text_lexes_and_every_token_is_where_it_says(text: str) -> None:
    tokens = tokenize(text)
    assert tokens[-1] == Token(Kind.END, "", len(text))
    previous_end = 0
    for token in tokens[:-1]:
        assert token.text
        assert text[token.position : token.position + len(token.text)] == token.text
        assert token.position >= previous_end  # in order, no overlap
        assert text[previous_end : token.position].strip() == ""  # only whitespace skipped
        previous_end = token.position + len(token.text)
    assert text[previous_end:].strip() == ""


@given(st.lists(st.sampled_from(sorted(KEYWORDS)), min_size=1, max_size=6))
def test_keywords_run_together_split_back(keywords: list[str]) -> None:
    assert [token.text for token in tokenize("".join(keywords))[:-1]] == keywords
