"""The one-line status systemd shows (``STATUS=``, ``systemctl status``).

::

    capturing on eth0, 2 threads: 1843 pkt/s, 0 drops, oldest packet 2026-11-26 21:04:10 UTC
    (3h12m ago), disk free 42%

:func:`format_status` is pure (facts in, text out); :class:`StatusReporter`
gathers the facts from the running daemon: the capture counters that
stenotype's stats lines feed (so the packet rate is an average over the last
:data:`RATE_WINDOW` seconds of those samples), the store's catalogue for the
oldest packet kept, and ``statvfs`` of the data directories for free space
(the lowest of them, since that is the one retention acts on first).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import attrs
import trio

from steno.actors.stats import Stats
from steno.store.catalogue import Catalogue

RATE_WINDOW = 30.0


@attrs.frozen(kw_only=True)
class StatusFacts:
    interface: str
    threads: int
    capturing: bool
    packets_per_second: float | None
    drops: int
    oldest_ns: int | None
    disk_free_percent: float | None


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def format_status(facts: StatusFacts, *, now_ns: int) -> str:
    """The status line for `facts` (one line, no newline)."""
    state = "capturing" if facts.capturing else "NOT capturing (stenotype restarting)"
    threads = f"{facts.threads} thread" + ("s" if facts.threads != 1 else "")
    parts = []
    if facts.packets_per_second is None:
        parts.append("rate pending")
    else:
        parts.append(f"{facts.packets_per_second:.0f} pkt/s")
    parts.append(f"{facts.drops} drop" + ("s" if facts.drops != 1 else ""))
    if facts.oldest_ns is None:
        parts.append("no packets stored yet")
    else:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(facts.oldest_ns // 10**9))
        parts.append(f"oldest packet {stamp} ({_age((now_ns - facts.oldest_ns) / 1e9)} ago)")
    if facts.disk_free_percent is not None:
        parts.append(f"disk free {facts.disk_free_percent:.0f}%")
    return f"{state} on {facts.interface}, {threads}: " + ", ".join(parts)


def oldest_packet_ns(catalogue: Catalogue) -> int | None:
    firsts = [f.first_ns for thread in catalogue.threads for f in thread if f.last_ns]
    return min(firsts) if firsts else None


def disk_free_percent(paths: Iterable[Path]) -> float | None:
    """The lowest free share among the file systems holding `paths` (as df's Avail)."""
    lowest: float | None = None
    for path in paths:
        try:
            st = os.statvfs(path)
        except OSError:
            continue
        if st.f_blocks:
            free = 100.0 * st.f_bavail / st.f_blocks
            lowest = free if lowest is None else min(lowest, free)
    return lowest


class StatusReporter:
    """Gathers :class:`StatusFacts` from the daemon's parts."""

    def __init__(
        self,
        *,
        interface: str,
        threads: int,
        stats: Stats,
        catalogue: Callable[[], Catalogue],
        capturing: Callable[[], bool],
        paths: Sequence[Path],
    ) -> None:
        self._interface = interface
        self._threads = threads
        self._stats = stats
        self._catalogue = catalogue
        self._capturing = capturing
        self._paths = tuple(paths)
        self._samples: deque[tuple[float, int]] = deque()

    def _rate(self, packets: int) -> float | None:
        now = trio.current_time()
        self._samples.append((now, packets))
        while len(self._samples) > 2 and self._samples[1][0] <= now - RATE_WINDOW:
            self._samples.popleft()
        (t0, p0), (t1, p1) = self._samples[0], self._samples[-1]
        if t1 - t0 <= 0:
            return None
        return max(0, p1 - p0) / (t1 - t0)

    async def facts(self) -> StatusFacts:
        packets, drops = self._stats.capture_totals()
        return StatusFacts(
            interface=self._interface,
            threads=self._threads,
            capturing=self._capturing(),
            packets_per_second=self._rate(packets),
            drops=drops,
            oldest_ns=oldest_packet_ns(self._catalogue()),
            disk_free_percent=await trio.to_thread.run_sync(disk_free_percent, self._paths),
        )

    async def line(self) -> str:
        return format_status(await self.facts(), now_ns=time.time_ns())
