"""The three capturers side by side: how each is started, stopped and counted.

All three capture on the lab's ``cap0`` with the same ring: ``--blocks``
blocks of ``--blocksize_kb`` for both stenotypes, ``-B`` of the same number of
KiB for tcpdump (libpcap cuts it into its own blocks).  Both stenotypes get the
same ``--blockage_sec``, ``--fileage_sec``, ``--aiops``, one thread,
``--uid=root --gid=root`` (upstream would drop to ``nobody``, which cannot
write to the benchmark's directories) and the same sandbox, ``--seccomp=kill``:
our default, and upstream's too; it works for upstream on this kernel
(rotation, index writing and every packet checked), so ``none`` is not needed.

Stopping, and what is odd about it:

* steno's ``stenotype``: SIGTERM; it drains the ring, seals its file with its
  index and exits 0.
* upstream's ``stenotype``: SIGTERM; its index writer writes the last index,
  but the packet thread never finishes the last packet file, which stays
  hidden, and the process does not exit: after 2 x ``--fileage_sec`` its
  watchdog aborts it ("WATCHDOG FAILURE").  The same happens with
  ``--seccomp=none``.  So the benchmark waits for the last index to become
  visible, then kills the process, and counts the hidden file's valid blocks.
* ``tcpdump -w``: SIGTERM; it flushes its pcap file and exits 0, printing
  its own counts (captured, received by filter, dropped by kernel).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from bench.stored import Stored, blockfile_store, pcap_store
from steno.lab.netns import Lab

UPSTREAM = "/usr/sbin/stenotype"


class CapturerMissing(RuntimeError):
    """A capturer's program is not installed."""


@attrs.frozen(kw_only=True)
class RingSpec:
    """Geometry and timing shared by all capturers."""

    blocks: int = 32
    block_kib: int = 1024
    aiops: int = 16
    blockage_sec: int = 1
    fileage_sec: int = 60

    @property
    def block_size(self) -> int:
        return self.block_kib * 1024

    @property
    def bytes(self) -> int:
        return self.blocks * self.block_size

    def stenotype_flags(self) -> list[str]:
        return [
            "--iface=cap0",
            "--threads=1",
            f"--blocks={self.blocks}",
            f"--blocksize_kb={self.block_kib}",
            f"--aiops={self.aiops}",
            f"--blockage_sec={self.blockage_sec}",
            f"--fileage_sec={self.fileage_sec}",
            "--uid=root",
            "--gid=root",
            "--seccomp=kill",
        ]


@attrs.frozen(kw_only=True)
class StopOutcome:
    """How a capturer ended: its exit status and what the benchmark had to do."""

    returncode: int | None
    how: str
    kernel_drops: int | None = None


def _wait_exit(proc: subprocess.Popen[Any], timeout: float) -> bool:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


class Capturer:
    """One capturer; subclasses say how to run it."""

    name: str = ""
    ready_marker: str = ""

    def __init__(self, ring: RingSpec) -> None:
        self.ring = ring

    def check(self) -> None:
        """Raises CapturerMissing if the program is not installed."""

    def prepare(self, store: Path) -> None:
        store.mkdir(parents=True)

    def argv(self, lab: Lab, store: Path) -> list[str]:
        raise NotImplementedError

    def outputs(self, store: Path) -> list[Path]:
        """Where its data lands (watched to see when it has caught up)."""
        raise NotImplementedError

    def stop(
        self,
        lab: Lab,
        proc: subprocess.Popen[Any],
        store: Path,
        log_text: Callable[[], str],
        before_kill: Callable[[], object],
    ) -> StopOutcome:
        raise NotImplementedError

    def count(self, store: Path) -> Stored:
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def describe(self, lab: Lab, store: Path) -> dict[str, object]:
        return {"name": self.name, "version": self.version(), "argv": self.argv(lab, store)}


def _sigterm_then_kill(
    lab: Lab, proc: subprocess.Popen[Any], timeout: float, before_kill: Callable[[], object]
) -> StopOutcome:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    if _wait_exit(proc, timeout):
        lab.stop(proc)
        how = "exited" if proc.returncode == 0 else f"failed ({proc.returncode})"
        return StopOutcome(returncode=proc.returncode, how=how)
    before_kill()
    lab.stop(proc, 1)
    return StopOutcome(returncode=proc.returncode, how=f"ignored SIGTERM for {timeout:g} s; killed")


class StenoStenotype(Capturer):
    name = "steno"
    ready_marker = "Capturing on"

    def argv(self, lab: Lab, store: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "steno.cli.stenotype",
            "-v",
            f"--dir={store}",
            *self.ring.stenotype_flags(),
        ]

    def outputs(self, store: Path) -> list[Path]:
        return [store / "PKT0"]

    def stop(
        self,
        lab: Lab,
        proc: subprocess.Popen[Any],
        store: Path,
        log_text: Callable[[], str],
        before_kill: Callable[[], object],
    ) -> StopOutcome:
        return _sigterm_then_kill(lab, proc, 30.0 + self.ring.blockage_sec, before_kill)

    def count(self, store: Path) -> Stored:
        return blockfile_store(store, block_size=self.ring.block_size)

    def version(self) -> str:
        git = shutil.which("git")
        here = Path(__file__).resolve().parent
        if git is None:
            return "unknown"
        out = subprocess.run(
            [git, "-C", str(here), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        return f"git {out.stdout.strip()}" if out.returncode == 0 else "unknown"


class UpstreamStenotype(Capturer):
    name = "upstream"
    ready_marker = "starting to process packets"

    def check(self) -> None:
        if not os.access(UPSTREAM, os.X_OK):
            raise CapturerMissing(
                f"upstream stenotype ({UPSTREAM}) is missing: install Debian's stenographer "
                "package (./dev.sh does: apt-get install stenographer)"
            )

    def prepare(self, store: Path) -> None:
        # Upstream never creates its directories.
        (store / "PKT0").mkdir(parents=True)
        (store / "IDX0").mkdir()

    def argv(self, lab: Lab, store: Path) -> list[str]:
        return [UPSTREAM, "-v", f"--dir={store}", *self.ring.stenotype_flags()]

    def outputs(self, store: Path) -> list[Path]:
        return [store / "PKT0"]

    def stop(
        self,
        lab: Lab,
        proc: subprocess.Popen[Any],
        store: Path,
        log_text: Callable[[], str],
        before_kill: Callable[[], object],
    ) -> StopOutcome:
        """SIGTERM, then wait until every packet file has its visible index."""
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                lab.stop(proc)
                how = "exited" if proc.returncode == 0 else f"ended by itself ({proc.returncode})"
                if "WATCHDOG FAILURE" in log_text():
                    how = "aborted (watchdog)"
                return StopOutcome(returncode=proc.returncode, how=how)
            if _indexes_complete(store):
                break
            time.sleep(0.05)
        else:
            before_kill()
            lab.stop(proc, 1)
            return StopOutcome(
                returncode=proc.returncode, how="no index 30 s after SIGTERM; killed"
            )
        before_kill()
        lab.stop(proc, 1)
        return StopOutcome(
            returncode=proc.returncode,
            how="wrote its last index but did not exit (known: last packet file left "
            "hidden); killed",
        )

    def count(self, store: Path) -> Stored:
        return blockfile_store(store, block_size=self.ring.block_size)

    def version(self) -> str:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", "stenographer"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        return f"Debian stenographer {out.stdout.strip() or 'unknown'}"


def _indexes_complete(store: Path) -> bool:
    """Every packet file (hidden or not) has a visible index, and none is half written."""
    try:
        packets = [n.lstrip(".") for n in os.listdir(store / "PKT0")]
        index = os.listdir(store / "IDX0")
    except FileNotFoundError:
        return False
    if any(n.startswith(".") for n in index):
        return False
    return bool(packets) and set(packets) <= set(index)


_TCPDUMP_DROPS = re.compile(r"(\d+) packets? dropped by kernel")


class Tcpdump(Capturer):
    name = "tcpdump"
    ready_marker = "listening on"

    def check(self) -> None:
        if shutil.which("tcpdump") is None:
            raise CapturerMissing("tcpdump is missing (apt-get install tcpdump)")

    def argv(self, lab: Lab, store: Path) -> list[str]:
        kib = self.ring.bytes // 1024
        # -Z root: Debian's tcpdump would otherwise write as user tcpdump.
        return [
            "tcpdump",
            "-i",
            "cap0",
            "-n",
            "-B",
            str(kib),
            "-Z",
            "root",
            "-w",
            str(store / "out.pcap"),
        ]

    def outputs(self, store: Path) -> list[Path]:
        return [store / "out.pcap"]

    def stop(
        self,
        lab: Lab,
        proc: subprocess.Popen[Any],
        store: Path,
        log_text: Callable[[], str],
        before_kill: Callable[[], object],
    ) -> StopOutcome:
        outcome = _sigterm_then_kill(lab, proc, 30.0, before_kill)
        m = _TCPDUMP_DROPS.search(log_text())
        return attrs.evolve(outcome, kernel_drops=int(m.group(1)) if m else None)

    def count(self, store: Path) -> Stored:
        return pcap_store(store / "out.pcap")

    def version(self) -> str:
        out = subprocess.run(
            ["tcpdump", "--version"], capture_output=True, text=True, check=False, timeout=10
        )
        lines = (out.stdout or out.stderr).splitlines()
        return ", ".join(lines[:2])


CAPTURERS: dict[str, type[Capturer]] = {
    "steno": StenoStenotype,
    "upstream": UpstreamStenotype,
    "tcpdump": Tcpdump,
}
