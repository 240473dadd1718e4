"""From a parsed query to what each file must answer: the planner (pure).

A query mixes two kinds of condition.  *Key* conditions (host, net, port,
protocol, vlan, mpls) are answered by an index: each becomes a look-up of a
key range of one key type.  *Time* conditions (before, after) are answered by
the packets themselves, exactly, one packet at a time (upstream decided per
file, give or take two minutes), and let whole files be skipped.

The planner separates them into a union of **terms**: each term is a key
expression (look-ups combined with `and`/`or`) and one time window
[lo, hi).  ``after X and before Y and host Z`` is one term; a time condition
inside an `or`, as in ``(port 80 and after X) or host Y``, gives one term per
alternative.  A packet is in the answer if it satisfies some term: its keys
match the term's expression and its time lies in the term's window.  Terms
with the same window are merged, so the usual query has one.

``Everything`` stands for "no key condition" (a time-only query, or the
alternatives of an `or` that cover all), and ``Nothing`` for an impossible one
(an empty window).  Nothing here touches a file.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from steno.query import ast

NO_START = 0
NO_END = 2**64 - 1
MAX_TERMS = 64
"""More alternatives than this with distinct time windows are refused."""

# Key types of docs/index-keys.md; an address range's family is its type.
PROTO, PORT, VLAN, IPV4, MPLS, IPV6 = 1, 2, 3, 4, 5, 6
_WIDTH = {PROTO: 1, PORT: 2, VLAN: 2, IPV4: 4, MPLS: 4, IPV6: 16}


class PlanError(ValueError):
    """The query is valid but too complex to plan (too many time windows)."""


@attrs.frozen
class Lookup:
    """Packets with a key of ``key_type`` between ``lo`` and ``hi`` (network byte order)."""

    key_type: int
    lo: bytes
    hi: bytes

    @classmethod
    def of(cls, key_type: int, first: int, last: int | None = None) -> Lookup:
        width = _WIDTH[key_type]
        last = first if last is None else last
        return cls(key_type, first.to_bytes(width, "big"), last.to_bytes(width, "big"))


@attrs.frozen
class AllOf:
    parts: tuple[KeyExpr, ...]


@attrs.frozen
class AnyOf:
    parts: tuple[KeyExpr, ...]


@attrs.frozen
class _Everything:
    def __repr__(self) -> str:
        return "Everything"


@attrs.frozen
class _Nothing:
    def __repr__(self) -> str:
        return "Nothing"


Everything = _Everything()
Nothing = _Nothing()

KeyExpr: TypeAlias = Lookup | AllOf | AnyOf | _Everything | _Nothing


@attrs.frozen
class Term:
    keys: KeyExpr
    lo_ns: int = NO_START
    hi_ns: int = NO_END

    @property
    def unbounded(self) -> bool:
        return self.lo_ns == NO_START and self.hi_ns == NO_END


@attrs.frozen
class Plan:
    """A union of terms; no terms means the query can match nothing."""

    terms: tuple[Term, ...]

    @property
    def window(self) -> tuple[int, int]:
        """The smallest [lo, hi) holding every term's window: files outside it are skipped."""
        if not self.terms:
            return (NO_START, NO_START)
        return (min(t.lo_ns for t in self.terms), max(t.hi_ns for t in self.terms))

    def overlaps(self, first_ns: int, last_ns: int) -> bool:
        """Whether packets timed in [first_ns, last_ns] could match some term."""
        return any(t.lo_ns <= last_ns and first_ns < t.hi_ns for t in self.terms)


def all_of(parts: list[KeyExpr]) -> KeyExpr:
    flat: list[KeyExpr] = []
    for p in parts:
        if p is Nothing:
            return Nothing
        if p is Everything:
            continue
        flat.extend(p.parts if isinstance(p, AllOf) else (p,))
    flat = list(dict.fromkeys(flat))
    if not flat:
        return Everything
    return flat[0] if len(flat) == 1 else AllOf(tuple(flat))


def any_of(parts: list[KeyExpr]) -> KeyExpr:
    flat: list[KeyExpr] = []
    for p in parts:
        if p is Everything:
            return Everything
        if p is Nothing:
            continue
        flat.extend(p.parts if isinstance(p, AnyOf) else (p,))
    flat = list(dict.fromkeys(flat))
    if not flat:
        return Nothing
    return flat[0] if len(flat) == 1 else AnyOf(tuple(flat))


def _merge(terms: list[Term]) -> list[Term]:
    """Terms with the same window become one; empty ones go."""
    by_window: dict[tuple[int, int], list[KeyExpr]] = {}
    for t in terms:
        if t.lo_ns >= t.hi_ns or t.keys is Nothing:
            continue
        by_window.setdefault((t.lo_ns, t.hi_ns), []).append(t.keys)
    merged = [Term(any_of(keys), lo, hi) for (lo, hi), keys in by_window.items()]
    if len(merged) > MAX_TERMS:
        raise PlanError(
            f"the query's time conditions make {len(merged)} different windows; "
            f"at most {MAX_TERMS} are supported"
        )
    return merged


def _terms(node: ast.Node) -> list[Term]:
    match node:
        case ast.AddressRange(family, first, last):
            return [Term(Lookup.of(family, first, last))]
        case ast.Port(number):
            return [Term(Lookup.of(PORT, number))]
        case ast.Protocol(number):
            return [Term(Lookup.of(PROTO, number))]
        case ast.Vlan(number):
            return [Term(Lookup.of(VLAN, number))]
        case ast.Mpls(number):
            return [Term(Lookup.of(MPLS, number))]
        case ast.After(time_ns):
            return [Term(Everything, lo_ns=max(time_ns, NO_START))]
        case ast.Before(time_ns):
            return [Term(Everything, hi_ns=max(time_ns, NO_START))]
        case ast.Or(operands):
            return _merge([t for op in operands for t in _terms(op)])
        case ast.And(operands):
            acc = [Term(Everything)]
            for op in operands:
                right = _terms(op)
                acc = _merge(
                    [
                        Term(
                            all_of([a.keys, b.keys]),
                            max(a.lo_ns, b.lo_ns),
                            min(a.hi_ns, b.hi_ns),
                        )
                        for a in acc
                        for b in right
                    ]
                )
            return acc
    raise TypeError(f"not a query node: {node!r}")


def plan(query: ast.Node) -> Plan:
    """The terms a parsed query asks every file for."""
    return Plan(tuple(_merge(_terms(query))))
