"""The query language: text in, a tree of index look-ups and time bounds out.

``parse(text, now=...)`` returns a `Node` or raises `QuerySyntaxError`; the
grammar, every primitive and what differs from Stenographer are in
``docs/query-language.md``.  Everything here is pure (no I/O, no clock).
"""

from steno.query.ast import (
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
from steno.query.errors import QuerySyntaxError
from steno.query.parse import parse

__all__ = [
    "AddressRange",
    "After",
    "And",
    "Before",
    "Mpls",
    "Node",
    "Or",
    "Port",
    "Protocol",
    "QuerySyntaxError",
    "Vlan",
    "parse",
]
