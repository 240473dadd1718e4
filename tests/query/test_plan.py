"""The planner: key expressions and time windows from parsed queries (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from steno.query import parse
from steno.query.plan import (
    IPV4,
    MAX_TERMS,
    NO_END,
    NO_START,
    PORT,
    PROTO,
    AllOf,
    AnyOf,
    Everything,
    Lookup,
    Plan,
    PlanError,
    Term,
    plan,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = "2026-01-02T02:00:00Z"
T2 = "2026-01-02T03:00:00Z"
NS1 = 1767319200 * 10**9
NS2 = 1767322800 * 10**9


def p(query: str) -> Plan:
    return plan(parse(query, now=NOW))


def test_a_key_query_is_one_unbounded_term() -> None:
    assert p("host 1.2.3.4") == Plan(
        (Term(Lookup(IPV4, bytes([1, 2, 3, 4]), bytes([1, 2, 3, 4]))),)
    )


def test_net_is_one_range_lookup() -> None:
    (term,) = p("net 10.1.0.0/16").terms
    assert term.keys == Lookup(IPV4, bytes([10, 1, 0, 0]), bytes([10, 1, 255, 255]))


def test_time_bounds_become_the_window() -> None:
    (term,) = p(f"after {T1} and before {T2} and tcp").terms
    assert term == Term(Lookup.of(PROTO, 6), NS1, NS2)


def test_security_onion_form_is_one_term() -> None:
    q = f"before {T2} and after {T1} and host 1.2.3.4 and host 1.2.3.5 and port 1 and port 2"
    (term,) = p(q).terms
    assert (term.lo_ns, term.hi_ns) == (NS1, NS2)
    assert isinstance(term.keys, AllOf) and len(term.keys.parts) == 4


def test_time_only_query_is_everything_in_a_window() -> None:
    assert p(f"after {T1}") == Plan((Term(Everything, NS1, NO_END),))
    assert p(f"before {T1}") == Plan((Term(Everything, NO_START, NS1),))


def test_time_inside_or_gives_one_term_per_window() -> None:
    plan_ = p(f"(port 80 and after {T1}) or (host 1.2.3.4 and before {T1})")
    assert set(plan_.terms) == {
        Term(Lookup.of(PORT, 80), NS1, NO_END),
        Term(Lookup.of(IPV4, 0x01020304), NO_START, NS1),
    }
    assert plan_.window == (NO_START, NO_END)


def test_terms_with_one_window_merge() -> None:
    (term,) = p(f"(tcp and after {T1}) or (udp and after {T1})").terms
    assert term == Term(AnyOf((Lookup.of(PROTO, 6), Lookup.of(PROTO, 17))), NS1, NO_END)


def test_an_empty_window_plans_nothing() -> None:
    assert p(f"after {T2} and before {T1}").terms == ()
    assert not p(f"after {T2} and before {T1}").overlaps(0, NO_END)


def test_left_to_right_precedence_with_time() -> None:
    # ((tcp or after T1) and before T2): tcp before T2, or anything in [T1, T2).
    assert set(p(f"tcp or after {T1} and before {T2}").terms) == {
        Term(Lookup.of(PROTO, 6), NO_START, NS2),
        Term(Everything, NS1, NS2),
    }


def test_everything_absorbs_alternatives_with_the_same_window() -> None:
    assert p(f"(tcp or udp or after {T1}) and after {T1}") == Plan((Term(Everything, NS1, NO_END),))


def test_overlap_prunes_files() -> None:
    plan_ = p(f"after {T1} and before {T2} and tcp")
    assert plan_.overlaps(NS1 - 5, NS1)
    assert not plan_.overlaps(0, NS1 - 1)
    assert not plan_.overlaps(NS2, NS2 + 10)
    assert plan_.overlaps(NS2 - 1, NS2 + 10)


def test_too_many_windows_is_a_clear_error() -> None:
    parts = " or ".join(
        f"(port {i} and after 2026-01-01T{i // 60:02d}:{i % 60:02d}:00Z)"
        for i in range(MAX_TERMS + 1)
    )
    with pytest.raises(PlanError, match="windows"):
        plan(parse(parts, now=NOW))
