"""The lab's process runner: ready when the log says so, failures carry the log,
a program that ignores SIGTERM is caught, and it never outlives the test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from steno.lab.logged_process import LoggedProcess
from steno.lab.netns import Lab

SH = "/bin/sh"


def test_ready_when_the_log_says_so_and_terminates_cleanly(lab: Lab, tmp_path: Path) -> None:
    p = LoggedProcess(lab, "sleeper", tmp_path / "sleeper.log")
    proc = p.launch(
        [SH, "-c", "echo warming up; sleep 0.3; echo all ready; exec sleep 30"],
        ready="all ready",
        timeout=10,
    )
    assert p.running()
    assert "warming up" in p.log()
    assert p.terminate(5) == -15  # SIGTERM
    assert not p.running()
    assert proc.returncode == -15


def test_a_restart_waits_for_its_own_ready_line(lab: Lab, tmp_path: Path) -> None:
    p = LoggedProcess(lab, "restarted", tmp_path / "restarted.log")
    p.launch([SH, "-c", "echo all ready; exec sleep 30"], ready="all ready", timeout=10)
    p.terminate(5)
    with pytest.raises(AssertionError, match=r"restarted not ready after 0\.5 s"):
        p.launch([SH, "-c", "exec sleep 30"], ready="all ready", timeout=0.5)
    p.terminate(5)


def test_a_program_that_exits_early_raises_with_its_log(lab: Lab, tmp_path: Path) -> None:
    p = LoggedProcess(lab, "quitter", tmp_path / "quitter.log")
    with pytest.raises(AssertionError, match=r"quitter exited with 3:\nbad config key"):
        p.launch([SH, "-c", "echo bad config key; exit 3"], ready="never", timeout=10)


def test_not_ready_in_time_raises_the_chosen_error(lab: Lab, tmp_path: Path) -> None:
    class Refused(Exception):
        pass

    p = LoggedProcess(lab, "slow", tmp_path / "slow.log", error=Refused)
    with pytest.raises(Refused, match=r"slow not ready after 0\.3 s"):
        p.launch([SH, "-c", "exec sleep 30"], ready=lambda: False, timeout=0.3)
    assert p.stop_within(1) == -15
    assert not p.running()


def test_ignoring_sigterm_is_an_error_and_the_program_is_killed(lab: Lab, tmp_path: Path) -> None:
    p = LoggedProcess(lab, "stubborn", tmp_path / "stubborn.log")
    p.launch(
        [SH, "-c", "trap '' TERM; echo up; while :; do sleep 0.1; done"],
        ready="up",
        timeout=10,
    )
    pid = p.proc.pid if p.proc else 0
    with pytest.raises(AssertionError, match=r"stubborn ignored SIGTERM for 0\.5 s"):
        p.terminate(0.5)
    assert not p.running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_stopping_what_never_started_says_so(lab: Lab, tmp_path: Path) -> None:
    p = LoggedProcess(lab, "ghost", tmp_path / "ghost.log")
    assert p.log() == ""
    with pytest.raises(AssertionError, match="ghost was never started"):
        p.terminate(1)
