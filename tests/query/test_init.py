"""steno.query's public surface: parse, QuerySyntaxError and the tree's classes, nothing else."""

from __future__ import annotations

import types

import steno.query

EXPECTED = {
    "parse",
    "QuerySyntaxError",
    "Node",
    "AddressRange",
    "Port",
    "Protocol",
    "Vlan",
    "Mpls",
    "Before",
    "After",
    "And",
    "Or",
}


def test_exports_are_exactly_the_public_names() -> None:
    assert set(steno.query.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(steno.query, name) is not None
    public = {
        name
        for name, value in vars(steno.query).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == EXPECTED


def test_parse_is_the_function_not_the_module() -> None:
    assert callable(steno.query.parse)
    assert steno.query.parse.__module__ == "steno.query.parse"
