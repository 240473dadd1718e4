"""The answer key for queries: which packets a query should return, decided
from the traffic generator's ground truth (each packet's keys) and each
packet's capture time, by a direct reading of docs/query-language.md -- not by
the planner or the engine, which it checks.  The tests, the demo and the query
benchmark all judge answers by it."""

from __future__ import annotations

from steno.lab.truth import Key, KeyType
from steno.query import ast


def matches(node: ast.Node, keys: frozenset[Key], ts_ns: int | None = None) -> bool:
    """Whether a packet with these keys, captured at ts_ns, answers the query.
    Without ts_ns only key terms can be judged: a time term is a TypeError."""
    match node:
        case ast.AddressRange(family, first, last):
            kind = KeyType.IPV4 if family == 4 else KeyType.IPV6
            return any(k == kind and first <= v <= last for k, v in keys)
        case ast.Port(number):
            return (KeyType.PORT, number) in keys
        case ast.Protocol(number):
            return (KeyType.PROTO, number) in keys
        case ast.Vlan(number):
            return (KeyType.VLAN, number) in keys
        case ast.Mpls(number):
            return (KeyType.MPLS, number) in keys
        case ast.After(time_ns) if ts_ns is not None:
            return ts_ns >= time_ns
        case ast.Before(time_ns) if ts_ns is not None:
            return ts_ns < time_ns
        case ast.And(operands):
            return all(matches(op, keys, ts_ns) for op in operands)
        case ast.Or(operands):
            return any(matches(op, keys, ts_ns) for op in operands)
    raise TypeError(node)
