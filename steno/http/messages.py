"""Requests and responses as plain data, whatever carries them (sans-IO).

A handler receives a :class:`Request` and returns a :class:`Response` whose
body is either bytes or an async iterator of chunks.  Streaming bodies end in
one of two ways, and the difference matters to clients: the iterator is
exhausted (a complete answer), or it raises :class:`AbortResponse` (or anything
else): then the connection is dropped without the final chunk, so a client
sees an incomplete answer instead of a short pcap that looks whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs


@attrs.frozen(kw_only=True)
class Request:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    peer: str

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query_string(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""


@attrs.frozen(kw_only=True)
class Response:
    status: int
    body: bytes | AsyncIterator[bytes] = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status=status, body=text.encode())


class AbortResponse(Exception):
    """Raised by a streaming body that cannot finish: the client must see a failure."""
