"""The STATUS= line: pure formatting, and the facts the daemon gathers."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from steno.actors.stats import Stats
from steno.actors.status import StatusFacts, StatusReporter, disk_free_percent, format_status
from steno.store.catalogue import Catalogue

NOW = 1_795_732_305 * 10**9


def facts(**changes: object) -> StatusFacts:
    base: dict[str, object] = {
        "interface": "eth0",
        "threads": 2,
        "capturing": True,
        "packets_per_second": 1843.4,
        "drops": 0,
        "oldest_ns": NOW - (3 * 3600 + 12 * 60) * 10**9,
        "disk_free_percent": 42.2,
    }
    base.update(changes)
    return StatusFacts(**base)  # type: ignore[arg-type]


def test_the_whole_line() -> None:
    assert format_status(facts(), now_ns=NOW) == (
        "capturing on eth0, 2 threads: 1843 pkt/s, 0 drops, "
        "oldest packet 2026-11-26 19:19:45 UTC (3h12m ago), disk free 42%"
    )


def test_not_capturing_nothing_stored_rate_unknown() -> None:
    line = format_status(
        facts(
            capturing=False,
            threads=1,
            packets_per_second=None,
            drops=1,
            oldest_ns=None,
            disk_free_percent=None,
        ),
        now_ns=NOW,
    )
    assert line == (
        "NOT capturing (stenotype restarting) on eth0, 1 thread: rate pending, 1 drop, "
        "no packets stored yet"
    )
    assert "\n" not in line


def test_ages_read_naturally() -> None:
    def age(seconds: int) -> str:
        line = format_status(facts(oldest_ns=NOW - seconds * 10**9), now_ns=NOW)
        return line.split("(")[1].split(" ago")[0]

    assert [age(s) for s in (5, 119, 120, 7199, 7200, 49 * 3600 + 60)] == [
        "5s",
        "119s",
        "2m",
        "119m",
        "2h00m",
        "2d01h",
    ]


def test_disk_free_is_the_lowest_and_skips_missing(tmp_path: Path) -> None:
    free = disk_free_percent([tmp_path, tmp_path / "missing"])
    assert free is not None and 0 <= free <= 100
    assert disk_free_percent([tmp_path / "missing"]) is None


async def test_rate_from_stenotype_samples(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    stats = Stats()
    reporter = StatusReporter(
        interface="cap0",
        threads=1,
        stats=stats,
        catalogue=lambda: Catalogue(((),)),
        capturing=lambda: True,
        paths=[tmp_path],
    )
    first = await reporter.facts()
    assert first.packets_per_second is None
    stats.capture_total(stats.capture_packets, 0, 1000)
    await trio.sleep(10)
    assert (await reporter.facts()).packets_per_second == 100.0
    stats.capture_total(stats.capture_drops, 0, 7)
    stats.capture_total(stats.capture_packets, 0, 3000)
    await trio.sleep(10)
    later = await reporter.facts()
    assert later.packets_per_second == 150.0  # 3000 packets over 20 s
    assert later.drops == 7
    for _ in range(6):  # old samples leave the 30 s window
        await trio.sleep(10)
        later = await reporter.facts()
    assert later.packets_per_second == 0.0
