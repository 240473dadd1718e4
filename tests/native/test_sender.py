"""The C sender in the lab: exact counts, paced rates, bounded time, errors counted."""

from __future__ import annotations

import pytest

from steno.lab.generator import generate
from steno.lab.netns import Lab, LabError

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("method", ["mmsg", "ring"])
def test_sends_exactly_count_frames(lab: Lab, method: str) -> None:
    t = generate(1, 500, "mixed")
    before = _rx_packets(lab)
    r = lab.send((t.data, t.offsets), count=1234, method=method)  # type: ignore[arg-type]
    assert r.sent == 1234
    assert r.errors == 0
    assert not r.timed_out
    assert _rx_packets(lab) - before == 1234


@pytest.mark.parametrize("rate", [20_000, 100_000])
def test_pacing_hits_the_rate(lab: Lab, rate: int) -> None:
    t = generate(1, 200, "imix")
    r = lab.send((t.data, t.offsets), count=rate // 2, rate=rate)
    assert r.sent == rate // 2
    assert abs(r.rate_pps - rate) / rate < 0.03
    assert 0.45e9 < r.elapsed_ns < 0.6e9


def test_max_seconds_bounds_a_send(lab: Lab) -> None:
    t = generate(1, 10, "small")
    r = lab.send((t.data, t.offsets), count=10**9, rate=1000, max_seconds=0.3)
    assert r.timed_out
    assert 0.29e9 <= r.elapsed_ns < 0.5e9
    assert 250 <= r.sent <= 320


def test_refused_frames_are_counted(lab: Lab) -> None:
    big = b"\x02" * 12 + b"\x88\xb5" + bytes(9100 - 14)  # over the 9000-byte MTU
    small = b"\x02" * 12 + b"\x88\xb5" + bytes(46)
    r = lab.send([small, big, small], count=30)
    assert r.sent == 20
    assert r.errors == 10
    assert r.last_error == 90
    with pytest.raises(LabError, match="14 to"):
        lab.send([b"\x02" * 10])


def _rx_packets(lab: Lab) -> int:
    """cap0's received-packet counter, from /proc/net/dev: per network namespace
    (unlike /sys, which the lab's nsenter does not remount)."""
    for line in lab.run(["cat", "/proc/net/dev"]).stdout.splitlines():
        name, _, counters = line.partition(":")
        if name.strip() == "cap0":
            return int(counters.split()[1])
    raise AssertionError("cap0 is not in /proc/net/dev")
