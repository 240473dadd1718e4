"""One measurement point: one capturer, one profile, one offered rate, one budget.

The steps, each bounded in time:

1. A fresh store directory, a fresh cgroup.
2. Start the capturer in the lab, move it into the cgroup, follow its VmHWM,
   wait for its "ready" line; then, for a budget point, set the cgroup's CPU
   quota (start-up runs unconfined: it is not what is measured, and our
   interpreter's start would take many seconds at a 5 % budget).
3. Read the cgroup's CPU time, send the traffic (exact count), then wait for
   the capturer to catch up: at least one block retire timeout, then until
   its files have not grown for ``settle`` seconds.  Stopping earlier would
   count a backlog that is still in the ring as lost.
4. Stop it (each capturer's own way, see ``capturers.py``), then read the
   cgroup's CPU time again: the difference covers capture, writing, the
   final index and exit, but not start-up (ring set-up, interpreter start).
5. ``sync``, so that no dirty data of this point is written back during the
   next one; count what is on disk; loss = sent - stored.  Delete the store.

Resource handling: the capturer is stopped by PID and the cgroup removed in
``finally``, also when a step fails; a failure becomes the point's ``error``
rather than ending the benchmark.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import attrs

from bench.capturers import Capturer, StopOutcome
from bench.cgroup import RunCgroup, Throttling
from bench.peak_rss import PeakRss
from bench.stored import Stored, stored_bytes
from bench.traffic import Traffic, send
from steno.lab.netns import Lab, LabError

READY_TIMEOUT = 30.0
CATCH_UP_LIMIT = 60.0


class TrialError(RuntimeError):
    """A point could not be measured (the capturer did not start, the sender failed)."""


@attrs.frozen(kw_only=True)
class Point:
    capturer: str
    profile: str
    budget: float | None
    offered_pps: int | None
    """None: the sender went as fast as it could."""
    sent: int
    send_seconds: float
    achieved_pps: float
    stored: int
    cpu_ns: int
    cpu_user_ns: int
    cpu_sys_ns: int
    peak_rss_kib: int
    files: Stored
    stop: StopOutcome
    catch_up_seconds: float
    throttling: Throttling | None
    sender_retries: int

    @property
    def loss(self) -> int:
        return self.sent - self.stored

    @property
    def loss_pct(self) -> float:
        return 100.0 * self.loss / self.sent if self.sent else 0.0

    @property
    def cpu_s_per_mpkt(self) -> float | None:
        return self.cpu_ns / 1e9 / (self.stored / 1e6) if self.stored else None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Point:
        """A point back from ``as_dict`` (to render a report again from the JSON)."""
        fields = {a.name for a in attrs.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        kw["files"] = Stored(**d["files"])
        kw["stop"] = StopOutcome(**d["stop"])
        kw["throttling"] = Throttling(**d["throttling"]) if d["throttling"] else None
        return cls(**kw)

    def as_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["loss"] = self.loss
        d["loss_pct"] = round(self.loss_pct, 4)
        d["cpu_s_per_mpkt"] = self.cpu_s_per_mpkt
        d["achieved_pps"] = round(self.achieved_pps, 1)
        return d


@attrs.frozen(kw_only=True)
class Failed:
    capturer: str
    profile: str
    budget: float | None
    offered_pps: int | None
    error: str
    log_tail: str

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _wait_ready(proc: subprocess.Popen[Any], log: Path, marker: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while marker not in _read(log):
        if proc.poll() is not None:
            raise TrialError(f"exited with {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise TrialError(f"not ready after {READY_TIMEOUT:g} s")
        time.sleep(0.05)


def _catch_up(outputs: list[Path], *, minimum: float, settle: float) -> float:
    """Waits until the capturer's files stop growing; returns the seconds waited."""
    start = time.monotonic()
    time.sleep(minimum)
    last = stored_bytes(outputs)
    stable_since = time.monotonic()
    while time.monotonic() - stable_since < settle:
        if time.monotonic() - start > CATCH_UP_LIMIT:
            break
        time.sleep(0.1)
        now = stored_bytes(outputs)
        if now != last:
            last, stable_since = now, time.monotonic()
    return time.monotonic() - start


def run_trial(
    lab: Lab,
    capturer: Capturer,
    traffic: Traffic,
    *,
    rate: int | None,
    seconds: float,
    budget: float | None,
    workdir: Path,
    tag: str,
) -> Point | Failed:
    store = workdir / f"{tag}-store"
    log = workdir / f"{tag}.log"
    proc: subprocess.Popen[Any] | None = None
    rss: PeakRss | None = None
    try:
        with RunCgroup(f"steno-bench-{os.getpid()}-{tag}") as cgroup:
            try:
                capturer.prepare(store)
                with open(log, "wb") as out:
                    proc = lab.popen(
                        capturer.argv(lab, store), stdout=out, stderr=subprocess.STDOUT
                    )
                cgroup.add(proc.pid)
                rss = PeakRss(proc.pid)
                _wait_ready(proc, log, capturer.ready_marker)
                if budget is not None:
                    cgroup.limit(budget)  # after start-up, which is not what is measured
                time.sleep(0.2)
                throttled0 = cgroup.throttling()
                user0, sys0 = cgroup.usage_split_ns()
                result = send(lab, traffic, rate=rate, seconds=seconds)
                if proc.poll() is not None:
                    raise TrialError(f"exited with {proc.returncode} while capturing")
                waited = _catch_up(
                    capturer.outputs(store),
                    minimum=capturer.ring.blockage_sec + 0.3,
                    settle=1.0,
                )
                rss.sample()
                stop = capturer.stop(lab, proc, store, lambda: _read(log), rss.sample)
                peak = rss.close()
                user1, sys1 = cgroup.usage_split_ns()
                throttled1 = cgroup.throttling()
            finally:
                if rss is not None:
                    rss.close()
                if proc is not None:
                    lab.stop(proc)
        # Write back what sits in the page cache (tcpdump writes through it) now,
        # outside any measurement, rather than during the next point.
        os.sync()
        files = capturer.count(store)
    except (TrialError, LabError, OSError) as exc:
        return Failed(
            capturer=capturer.name,
            profile=traffic.profile,
            budget=budget,
            offered_pps=rate,
            error=f"{type(exc).__name__}: {exc}",
            log_tail=_read(log)[-2000:],
        )
    finally:
        shutil.rmtree(store, ignore_errors=True)
    return Point(
        capturer=capturer.name,
        profile=traffic.profile,
        budget=budget,
        offered_pps=rate,
        sent=result.sent,
        send_seconds=result.elapsed_ns / 1e9,
        achieved_pps=result.rate_pps,
        stored=files.packets,
        cpu_ns=(user1 - user0) + (sys1 - sys0),
        cpu_user_ns=user1 - user0,
        cpu_sys_ns=sys1 - sys0,
        peak_rss_kib=peak,
        files=files,
        stop=stop,
        catch_up_seconds=round(waited, 2),
        throttling=None
        if budget is None
        else Throttling(
            periods=throttled1.periods - throttled0.periods,
            throttled_periods=throttled1.throttled_periods - throttled0.throttled_periods,
            throttled_ns=throttled1.throttled_ns - throttled0.throttled_ns,
        ),
        sender_retries=result.retries,
    )
