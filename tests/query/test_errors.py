"""QuerySyntaxError: one honest line, the token and its position, and a caret for terminals."""

from __future__ import annotations

import pytest

from steno.query.errors import QuerySyntaxError, quote


def error(query: str, position: int, token: str, detail: str = "expected x") -> QuerySyntaxError:
    return QuerySyntaxError(
        f"unexpected {quote(token)}", query=query, position=position, token=token, detail=detail
    )


def test_message_and_attributes() -> None:
    err = QuerySyntaxError(
        'unexpected "AND"',
        query="tcp AND udp",
        position=4,
        token="AND",
        detail='expected "and", "or" or the end of the query',
    )
    assert str(err) == (
        'unexpected "AND" at character 4: expected "and", "or" or the end of the query'
    )
    assert (err.query, err.position, err.token) == ("tcp AND udp", 4, "AND")
    assert err.problem == 'unexpected "AND"'
    assert isinstance(err, ValueError)


def test_message_without_detail() -> None:
    assert str(QuerySyntaxError("x", query="ab", position=2, token="")) == "x at character 2"


@pytest.mark.parametrize(("position", "token"), [(-1, ""), (3, ""), (0, "b"), (1, "bc")])
def test_token_must_be_at_its_position(position: int, token: str) -> None:
    with pytest.raises(ValueError, match="not at"):
        QuerySyntaxError("x", query="ab", position=position, token=token)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("AND", '"AND"'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("\n\t\r", '"\\n\\t\\r"'),
        ("\x1b[31m", '"\\x1b[31m"'),
        ("\x00", '"\\x00"'),
        ("\u202eevil", '"\\u202eevil"'),  # bidirectional override
        ("\U000e0001", '"\\U000e0001"'),  # a tag character (format, unprintable)
        ("zürich中", '"zürich中"'),  # printable Unicode stays readable
        ("", '""'),
    ],
)
def test_quote(text: str, quoted: str) -> None:
    assert quote(text) == quoted


def test_message_is_one_line_whatever_the_token() -> None:
    err = error("port 80 \x1b]0;\n\u2028x", 8, "\x1b]0;\n\u2028x")
    assert "\n" not in str(err) and "\x1b" not in str(err) and "\u2028" not in str(err)


@pytest.mark.parametrize(
    ("query", "position", "token", "lines"),
    [
        ("tcp AND udp", 4, "AND", ["tcp AND udp", "    ^^^"]),
        ("tcp or", 6, "", ["tcp or", "      ^"]),
        ("", 0, "", ["", "^"]),
        # Whitespace of any kind is one column, so the caret stays under the token.
        ("tcp\nand\tAND", 8, "AND", ["tcp and AND", "        ^^^"]),
        # Unprintable characters are escaped, and the caret follows the escape.
        ("port \x1b[1m80", 5, "\x1b[1m80", ["port \\x1b[1m80", "     ^^^^^^^^^"]),
        ("a\x00 b", 3, "b", ["a\\x00 b", "      ^"]),
        # A literal backslash is doubled so that it cannot pass for an escape.
        ("a\\x00 b", 0, "a\\x00", ["a\\\\x00 b", "^^^^^^"]),
        # Wide characters take two columns.
        ("中文 tcp", 3, "tcp", ["中文 tcp", "     ^^^"]),
        ("host 中", 5, "中", ["host 中", "     ^^"]),
        # A combining character takes none.
        ("e\u0301 x", 3, "x", ["e\u0301 x", "  ^"]),
        # Trailing whitespace is not drawn; the caret still is.
        ("tcp or   ", 9, "", ["tcp or", "         ^"]),
    ],
)
def test_caret(query: str, position: int, token: str, lines: list[str]) -> None:
    assert error(query, position, token).caret() == "\n".join(lines)


def test_caret_cuts_a_long_query_around_the_token() -> None:
    query = "port 1 or " * 30 + "port 0x50" + " or port 2" * 30
    position = query.index("0x50")
    text = error(query, position, "0x50").caret(width=40)
    line, pointer = text.split("\n")
    assert line.startswith("…") and line.endswith("…")
    assert len(line) == 42  # 40 columns of query and the two marks
    column = pointer.index("^")
    assert pointer == " " * column + "^^^^"
    assert line[column : column + 4] == "0x50"


def test_caret_at_the_end_of_a_long_query() -> None:
    query = "port 1 or " * 30
    err = error(query, len(query), "")
    line, pointer = err.caret(width=40).split("\n")
    assert line.startswith("…") and not line.endswith("…")
    assert len(pointer) == 41 and pointer.endswith("^")  # "…" + 39 columns + the caret
    assert query.rstrip().endswith(line[1:])


def test_caret_at_the_start_of_a_long_query() -> None:
    query = "x" + " or port 2" * 30
    line, pointer = error(query, 0, "x").caret(width=40).split("\n")
    assert line == query[:40] + "…"
    assert pointer == "^"


def test_caret_never_splits_an_escape() -> None:
    query = "\x1b" * 50 + " bad"
    position = query.index("bad")
    line, pointer = error(query, position, "bad").caret(width=21).split("\n")
    body = line.removeprefix("…")
    assert body.startswith("\\x1b"), line
    assert line[pointer.index("^") :].startswith("bad")
