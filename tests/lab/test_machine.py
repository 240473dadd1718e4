"""The lab machine (systemd as PID 1) leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from steno.lab.machine import SystemdMachine
from steno.lab.netns import Lab

pytestmark = pytest.mark.lab


def test_boot_and_close_leave_nothing_behind(lab: Lab) -> None:
    host_run_systemd_system = Path("/run/systemd/system").exists()
    machine = SystemdMachine(lab)
    machine.boot()
    try:
        pid1 = machine.pid1
        assert pid1 is not None
        assert Path(f"/proc/{pid1}/comm").read_text().strip() == "systemd"
        assert machine.run(["systemctl", "is-system-running"], check=False).stdout.strip() in (
            "running",
            "degraded",
        )
        # It sees the lab's links, not the host's.
        links = machine.run(["ip", "-o", "link"]).stdout
        assert "cap0" in links and "gen0" in links
        scratch = machine.scratch
        cgroups = machine.cgroups
        assert scratch is not None and cgroups
    finally:
        machine.close()
    assert not Path(f"/proc/{pid1}").exists()
    assert not scratch.exists()
    assert not [cg for cg in cgroups if cg.exists()]
    assert str(scratch) not in Path("/proc/self/mountinfo").read_text()
    assert Path("/run/systemd/system").exists() == host_run_systemd_system
