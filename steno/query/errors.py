"""QuerySyntaxError: what is wrong with a query, where, and how to show it.

A query comes from a person (``stenoread 'host 1.2.3.4 and port 80'``) or from a
tool that built it from one (Security Onion), so the error is written for a
person: one line, naming the offending text and the character where it starts,
then what was expected::

    unexpected "AND" at character 4: expected "and", "or" or the end of the query

Positions count characters (code points) from 0 and point at the *first*
character of the offending token; at the end of the query the position is the
query's length and the token is empty.  (Stenographer reported the character
after the token, which cannot place a caret.)  `QuerySyntaxError.caret` turns
that into two lines for a terminal.

Query text is untrusted: it may hold newlines, terminal escape sequences or
bidirectional-override characters.  Nothing of it reaches a message or the
caret lines unescaped (`quote`), so an error printed to a terminal or a log is
still one honest line.
"""

from __future__ import annotations

import unicodedata

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def quote(text: str) -> str:
    """`text` in double quotes, with quotes, backslashes and unprintable characters escaped."""
    return '"' + "".join(_escape(char) for char in text) + '"'


def _cell(char: str) -> tuple[str, int]:
    """How one query character is drawn on the caret line, and how many columns it takes."""
    if char.isspace():
        return " ", 1
    if not char.isprintable() or char in "\\":
        shown = _escape(char)
        return shown, len(shown)
    if unicodedata.combining(char):
        return char, 0
    return char, 2 if unicodedata.east_asian_width(char) in "WF" else 1


class QuerySyntaxError(ValueError):
    """A query that steno will not run, with the offending token and its position.

    Attributes: ``query`` (the whole text), ``position`` (character offset of the
    token, ``len(query)`` at the end), ``token`` (the offending text exactly as
    written; ``query[position:position + len(token)] == token``), ``problem``
    and ``detail`` (the two halves of the message around the position).
    """

    def __init__(
        self, problem: str, *, query: str, position: int, token: str, detail: str = ""
    ) -> None:
        if not 0 <= position <= len(query) or query[position : position + len(token)] != token:
            raise ValueError(f"token {token!r} is not at {position} in the query")
        message = f"{problem} at character {position}"
        if detail:
            message += f": {detail}"
        super().__init__(message)
        self.query = query
        self.position = position
        self.token = token
        self.problem = problem
        self.detail = detail

    def __str__(self) -> str:
        return str(self.args[0])

    def caret(self, width: int = 80) -> str:
        """Two lines for a terminal: the query, and ``^`` under the offending token.

        Whitespace (newlines too) is drawn as one space, unprintable characters
        as escapes, wide characters as two columns.  A query wider than `width`
        columns is cut around the token, with ``…`` where text was left out.
        """
        cells = [_cell(char) for char in self.query]
        starts = [0]
        for _, columns in cells:
            starts.append(starts[-1] + columns)
        total = starts[-1]
        first = starts[self.position]
        last = max(first + 1, starts[self.position + len(self.token)])

        end = max(total, last)
        low, high = 0, end
        if end > width:
            low = max(0, min(first - width // 4, end - width))
            low = next(start for start in starts if start >= low)  # a whole character
            high = min(end, low + width)
        shown = [
            text
            for (text, columns), start in zip(cells, starts, strict=False)
            if low <= start and start + columns <= high
        ]
        left = "…" if low > 0 else ""
        right = "…" if high < total else ""
        line = left + "".join(shown) + right
        pointer = " " * (len(left) + first - low) + "^" * (min(last, high) - first)
        return f"{line.rstrip()}\n{pointer}"
