"""docs/query-language.md shows real messages: its error table is checked against the parser."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from steno.query import QuerySyntaxError, parse

DOC = Path(__file__).parents[2] / "docs" / "query-language.md"


def error_rows() -> list[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("| query | error |") : text.index("## Limits")]
    return re.findall(r"^\| `(.*?)` \| `(.*?)` \|$", table, re.MULTILINE)


def test_the_table_is_there() -> None:
    assert len(error_rows()) >= 20


@pytest.mark.parametrize(("query", "message"), error_rows())
def test_documented_error(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query, now=datetime(2026, 1, 2, tzinfo=UTC))
    start, _, end = message.partition("…")  # "…" elides part of a long message
    assert str(caught.value).startswith(start) and str(caught.value).endswith(end or start)
