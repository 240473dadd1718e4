"""A program the lab runs in its namespace, its output in a log file.

Every long-running program the lab starts (steno's ``stenotype`` and daemon,
upstream's ``stenotype`` and ``stenographer``) is watched the same way: its
stdout and stderr go to a log the test can show when something fails, it is
ready when its log (or a probe) says so, and it is stopped by PID.  One class
does that so each runner says only what is particular to its program.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from steno.lab.netns import Lab


class LoggedProcess:
    """One program in the lab with its output appended to ``log_path``."""

    def __init__(
        self,
        lab: Lab,
        name: str,
        log_path: Path,
        *,
        error: type[Exception] = AssertionError,
    ) -> None:
        self.lab = lab
        self.name = name
        self.log_path = log_path
        self.error = error  # what a failure to start or stop raises
        self.proc: subprocess.Popen[Any] | None = None

    def launch(
        self,
        argv: Sequence[str],
        *,
        ready: str | Callable[[], bool],
        timeout: float,
        env: Mapping[str, str] | None = None,
        poll: float = 0.05,
        **popen: Any,
    ) -> subprocess.Popen[Any]:
        """Starts argv and waits until ``ready`` (a line its log must hold, or a
        probe) says it is; raises ``error`` with the log if it exits or takes
        longer than ``timeout`` seconds."""
        with open(self.log_path, "ab") as log:  # the child keeps its own copy
            since = log.tell()
            self.proc = proc = self.lab.popen(argv, stdout=log, stderr=log, env=env, **popen)
        is_ready = ready if callable(ready) else self._log_says(ready, since)
        deadline = time.monotonic() + timeout
        while not is_ready():
            if proc.poll() is not None:
                raise self.error(f"{self.name} exited with {proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise self.error(f"{self.name} not ready after {timeout} s:\n{self.log()}")
            time.sleep(poll)
        return proc

    def _log_says(self, line: str, since: int) -> Callable[[], bool]:
        """Whether the log holds the line after byte ``since`` (a restart
        appends to the same log, whose first run said it long ago)."""

        def says() -> bool:
            try:
                with open(self.log_path, "rb") as log:
                    log.seek(since)
                    return line.encode() in log.read()
            except FileNotFoundError:
                return False

        return says

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float) -> int:
        """SIGTERM and wait for a clean exit; returns the exit status.  A program
        that ignores SIGTERM is killed and that is an error: the tests judge
        shutdown, so lingering must not pass unseen."""
        proc = self._started()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.lab.stop(proc, 1)
            raise self.error(
                f"{self.name} ignored SIGTERM for {timeout} s:\n{self.log()}"
            ) from None

    def stop_within(self, grace: float) -> int | None:
        """SIGTERM, SIGKILL after ``grace`` seconds; returns the exit status
        (for programs whose shutdown is not being judged)."""
        return self.lab.stop(self._started(), grace)

    def kill(self) -> None:
        proc = self._started()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def _started(self) -> subprocess.Popen[Any]:
        if self.proc is None:
            raise self.error(f"{self.name} was never started")
        return self.proc
