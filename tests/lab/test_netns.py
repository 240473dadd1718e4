"""The lab itself: isolated, quiet, cleaned up also when the test fails."""

from __future__ import annotations

import subprocess

import pytest

from steno.lab.netns import Lab, LabError

pytestmark = pytest.mark.lab


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_links_live_only_in_the_namespace(lab: Lab) -> None:
    assert lab.name.startswith("steno-")
    assert lab.name in _namespaces()
    links = lab.run(["ip", "-o", "link"]).stdout
    assert "gen0" in links
    assert "cap0" in links
    assert "mtu 9000" in links
    host = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "gen0" not in host
    assert "cap0" not in host
    assert lab.run(["sysctl", "-n", "net.ipv6.conf.cap0.disable_ipv6"]).stdout.strip() == "1"
    feats = lab.run(["ethtool", "-k", "cap0"]).stdout
    assert "generic-receive-offload: off" in feats
    assert "rx-vlan-offload: off" in feats


def _body_that_fails(lab: Lab, seen: list[object]) -> None:
    seen.append(lab.popen(["sleep", "300"]))
    seen.append(lab.name)
    raise RuntimeError("boom")


def test_teardown_stops_processes_and_deletes_namespace_when_the_body_raises() -> None:
    seen: list[object] = []
    with pytest.raises(RuntimeError, match="boom"), Lab() as lab:
        _body_that_fails(lab, seen)
    proc, name = seen
    assert isinstance(proc, subprocess.Popen)
    assert proc.poll() is not None
    assert name not in _namespaces()


def test_stubborn_process_is_killed() -> None:
    with Lab(stop_timeout=0.5) as lab:
        proc = lab.popen(["sh", "-c", "trap '' TERM; sleep 300"])
        lab.run(["sleep", "0.2"])
    assert proc.returncode == -9


def test_failed_command_names_itself(lab: Lab) -> None:
    with pytest.raises(LabError, match="false"):
        lab.run(["false"])
