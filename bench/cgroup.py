"""A cgroup per benchmark run: the CPU it used, and optionally a CPU budget.

The machines this runs on have cgroup v1 controllers (``cpu`` and ``cpuacct``
may be mounted together as ``cpu,cpuacct`` or apart, as here); cgroup2 carries
no controllers.  A :class:`RunCgroup` makes one group of its own in the
``cpuacct`` hierarchy (CPU time, user and system, of every thread of every
process in it, ``cpuacct.usage_user``/``usage_sys``) and one in the ``cpu``
hierarchy, where :meth:`RunCgroup.limit` sets ``cpu.cfs_quota_us`` and
``cpu.cfs_period_us``: the processes in it then get at most quota/period of
one CPU, however many threads they run.

Why a cgroup rather than ``/proc/PID/stat``: it counts every thread, also those
that ended before the reading (upstream's index writers), it is read in
nanoseconds, and the same group enforces the budget.

What it cannot see: work the kernel does for the capturer in another context.
Copying a received frame into the capture ring happens in the softirq of the
CPU that sends it, so here it is charged to the sender, for every capturer
alike.

Resource handling: the groups are removed by :meth:`remove` (the context
manager's exit); a group can only be removed once no process is in it, so
callers stop their processes first.  Removal is retried briefly, because the
kernel takes a moment to let go of a process that has just exited.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType

import attrs

PERIOD_US = 100_000


class CgroupError(RuntimeError):
    """The cgroup v1 controllers are missing, or a group cannot be made or removed."""


def controller_root(controller: str, mounts: str = "/proc/self/mounts") -> Path:
    """Where the cgroup v1 hierarchy that has ``controller`` is mounted."""
    with open(mounts) as f:
        for line in f:
            fields = line.split()
            if len(fields) < 4 or fields[2] != "cgroup":
                continue
            if controller in fields[3].split(","):
                return Path(fields[1])
    raise CgroupError(
        f"no cgroup v1 hierarchy with the {controller!r} controller is mounted; the benchmark "
        "needs cgroup v1 cpu and cpuacct (cgroup2 here carries no controllers)"
    )


@attrs.frozen
class Throttling:
    """``cpu.stat``: how often the budget stopped the group, and for how long."""

    periods: int
    throttled_periods: int
    throttled_ns: int


class RunCgroup:
    """One run's cgroup(s): CPU accounting, and a CPU budget once :meth:`limit` is called."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._acct = controller_root("cpuacct") / name
        self._cpu = controller_root("cpu") / name
        self._made: list[Path] = []

    def __enter__(self) -> RunCgroup:
        self.create()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def create(self) -> None:
        dirs = [self._acct]
        if self._cpu != self._acct:
            dirs.append(self._cpu)  # cpu and cpuacct mounted apart, as here
        try:
            for path in dirs:
                path.mkdir()
                self._made.append(path)
        except OSError as exc:
            self.remove()
            raise CgroupError(f"cannot create cgroup {self.name}: {exc}") from exc

    def limit(self, budget: float) -> None:
        """From now on, the group gets at most ``budget`` of one CPU (e.g. 0.05 = 5 %):
        ``budget * period`` of CPU time in every ``period`` (100 ms)."""
        if not 0.01 <= budget <= 64:
            raise ValueError("budget is a share of one CPU, between 0.01 and 64")
        (self._cpu / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
        (self._cpu / "cpu.cfs_quota_us").write_text(f"{round(budget * PERIOD_US)}\n")

    def add(self, pid: int) -> None:
        """Moves process pid (all its threads) into the group(s)."""
        for path in self._made:
            (path / "cgroup.procs").write_text(f"{pid}\n")

    def usage_ns(self) -> int:
        """CPU time used by everything that ran in the group so far (user + system)."""
        return int((self._acct / "cpuacct.usage").read_text())

    def usage_split_ns(self) -> tuple[int, int]:
        """(user, system) CPU time of the group so far."""
        user = int((self._acct / "cpuacct.usage_user").read_text())
        system = int((self._acct / "cpuacct.usage_sys").read_text())
        return user, system

    def throttling(self) -> Throttling:
        stat: dict[str, int] = {}
        for line in (self._cpu / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                stat[key] = int(value)
        return Throttling(
            periods=stat.get("nr_periods", 0),
            throttled_periods=stat.get("nr_throttled", 0),
            throttled_ns=stat.get("throttled_time", 0),
        )

    def remove(self, timeout: float = 5.0) -> None:
        """Removes the group(s); they must be empty of processes."""
        deadline = time.monotonic() + timeout
        while self._made:
            path = self._made[-1]
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise CgroupError(f"cannot remove cgroup {path}: {exc}") from exc
                time.sleep(0.05)
                continue
            self._made.pop()
