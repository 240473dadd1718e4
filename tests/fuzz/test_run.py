"""fuzz/run.py: a short run of every harness in the test suite (about 24 s).

Fails if a harness crashes (a sanitizer report, a failed check, a timeout)
or did not really run.  ``nox -s fuzz`` runs the same thing for longer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.slow
def test_fuzzers_find_nothing_in_a_short_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fuzz.run", "--seconds", "24", "--corpus", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    lines = [line for line in done.stdout.splitlines() if line.startswith("fuzz ")]
    assert len(lines) == 3, report
    for line in lines:
        executions = int(line.split(", ")[1].split()[0])
        assert executions > 1000, line
