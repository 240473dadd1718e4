"""The shipped units under a real systemd: socket activation, readiness,
status, journal fields, privileges, the watchdog and a clean stop.

systemd runs as PID 1 of a lab machine (``steno/lab/machine.py``: an overlay
of this host's root, its own PID/mount/cgroup namespaces, inside a lab
network namespace whose ``cap0`` it captures on).  steno is installed there
as an operator would (docs/systemd.md): ``units/install.sh`` copies the units
*unchanged*, runs sysusers and tmpfiles and makes the certificates; the only
stand-in is the ``/opt/steno`` environment itself, a venv of Debian's python3
whose path points at this checkout and this test environment's packages
instead of a ``pip install`` (no network, seconds instead of a minute).  The
configuration is the operator's part: it names the lab's interface and small
rings.  The test hook ``/debug/hang`` is enabled through the manager's
environment (``systemctl set-environment``), not through the units.

The tests share one machine and run in order; each states what it needs.
"""

from __future__ import annotations

import collections
import io
import json
import os
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

import steno
from steno.capabilities import CAPTURE
from steno.lab.generator import generate
from steno.lab.machine import CHECKOUT, DEPS, SystemdMachine
from steno.lab.netns import Lab
from steno.lab.pcap import iter_pcap

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
SERVICE = "stenographer.service"
SOCKET = "stenographer.socket"
DATA = "/var/lib/stenographer/thread0"
CONFIG = {
    "Threads": [
        {
            "PacketsDirectory": f"{DATA}/packets",
            "IndexDirectory": f"{DATA}/index",
            "DiskFreePercentage": 1,
            "MaxDirectoryFiles": 30000,
        }
    ],
    "StenotypePath": "/opt/steno/bin/stenotype",
    "Interface": "cap0",
    "Port": 1234,
    "Host": "127.0.0.1",
    "Flags": [
        "--blocks=16",
        "--blocksize_kb=64",
        "--aiops=4",
        "--filesize_mb=4",
        "--fileage_sec=5",
        "--blockage_sec=1",
        "--stats_sec=2",
        "--seccomp=kill",
    ],
    "CertPath": "/etc/stenographer/certs",
}
SCRIPTS = ("stenographer", "stenotype", "stenoread", "stenokeys", "stenocurl")
EVERYTHING = "net 0.0.0.0/0 or net ::/0 or vlan 1 or mpls 0 or after 1h ago"


@attrs.define
class Sensor:
    lab: Lab
    machine: SystemdMachine
    install_seconds: float

    def stenoread(self, query: str, *args: str, timeout: float = 60) -> tuple[int, bytes, str]:
        proc = self.machine.run_bytes(["/opt/steno/bin/stenoread", query, *args], timeout=timeout)
        return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")

    def curl(self, path: str, *args: str) -> str:
        certs = "/etc/stenographer/certs"
        argv = ["curl", "-sS", "--max-time", "30", "--cacert", f"{certs}/ca_cert.pem"]
        argv += ["--cert", f"{certs}/client_cert.pem", "--key", f"{certs}/client_key.pem"]
        return self.machine.run([*argv, *args, f"https://127.0.0.1:1234{path}"]).stdout

    def service(self, *properties: str) -> dict[str, str]:
        return self.machine.show(SERVICE, *properties)

    def status(self, pid: int) -> dict[str, str]:
        text = self.machine.path(f"/proc/{pid}/status").read_text()
        return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)

    def stenotype(self, main: int, timeout: float = 20) -> int:
        """stenotype's pid (in the machine): the daemon's one child."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.machine.run(["pgrep", "-P", str(main)], check=False).stdout.split()
            if len(out) == 1:
                return int(out[0])
            assert time.monotonic() < deadline, f"children of {main}: {out}\n{self.log()}"
            time.sleep(0.2)

    def log(self) -> str:
        return self.machine.run(
            ["journalctl", "--no-pager", "-u", SERVICE, "-o", "cat"], check=False
        ).stdout


def install(machine: SystemdMachine) -> None:
    """/opt/steno as the install would leave it, then units/install.sh --no-venv."""
    machine.run(["/usr/bin/python3", "-m", "venv", "--without-pip", "/opt/steno"])
    purelib = machine.run(
        ["/opt/steno/bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    package_parent = Path(steno.__file__).resolve().parent.parent
    source = CHECKOUT if package_parent == REPO else DEPS
    machine.path(purelib).joinpath("steno-under-test.pth").write_text(f"{source}\n{DEPS}\n")
    for name in SCRIPTS:
        script = machine.path(f"/opt/steno/bin/{name}")
        script.write_text(
            "#!/opt/steno/bin/python\nimport sys\n"
            f"from steno.cli.{name} import main\nsys.exit(main())\n"
        )
        script.chmod(0o755)
    config = machine.path("/etc/stenographer/config")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(CONFIG, indent=2))
    config.chmod(0o644)
    machine.run([f"{CHECKOUT}/units/install.sh", "--no-venv"], timeout=120)


@pytest.fixture(scope="module")
def sensor() -> Iterator[Sensor]:
    deps = sysconfig.get_paths()["purelib"]
    with Lab() as lab, SystemdMachine(lab, binds={str(REPO): CHECKOUT, deps: DEPS}) as machine:
        print(f"machine booted in {machine.boot_seconds:.1f} s")
        started = time.monotonic()
        install(machine)
        machine.systemctl("set-environment", "STENO_TEST_HOOKS=1")
        yield Sensor(lab, machine, time.monotonic() - started)


def packets(pcap: bytes) -> list[bytes]:
    return [r.data for r in iter_pcap(io.BytesIO(pcap))[1]]


def wait_for_packets(sensor: Sensor, query: str, count: int, timeout: float = 40) -> list[bytes]:
    deadline = time.monotonic() + timeout
    got: list[bytes] = []
    while time.monotonic() < deadline:
        rc, out, _err = sensor.stenoread(query, "-w", "-")
        if rc == 0:
            got = packets(out)
            if len(got) >= count:
                return got
        time.sleep(0.5)
    raise AssertionError(f"{len(got)} of {count} packets after {timeout} s\n{sensor.log()}")


def test_a_query_starts_the_service_through_the_socket(sensor: Sensor) -> None:
    m = sensor.machine
    print(f"installed in {sensor.install_seconds:.1f} s")
    m.systemctl("enable", SOCKET, SERVICE)
    m.systemctl("start", SOCKET)
    assert m.show(SOCKET, "ActiveState")["ActiveState"] == "active"
    assert sensor.service("ActiveState")["ActiveState"] == "inactive"

    started = time.monotonic()
    rc, out, err = sensor.stenoread("after 1m ago", "-w", "-")
    assert rc == 0, f"{err}\n{sensor.log()}"
    print(f"first query (starts the service) answered in {time.monotonic() - started:.1f} s")
    assert packets(out) == []
    state = sensor.service("ActiveState", "SubState", "MainPID", "Type", "NotifyAccess")
    assert state["ActiveState"] == "active" and state["SubState"] == "running", state
    assert (state["Type"], state["NotifyAccess"]) == ("notify", "main")

    traffic = generate(seed=51, count=800, profile="mixed")
    sensor.lab.send((traffic.data, traffic.offsets), rate=20_000)
    got = wait_for_packets(sensor, EVERYTHING, len(traffic))
    assert collections.Counter(got) == collections.Counter(traffic.frames())


def test_systemctl_status_shows_the_live_status_line(sensor: Sensor) -> None:
    deadline = time.monotonic() + 15
    while "oldest packet" not in (text := sensor.service("StatusText")["StatusText"]):
        assert time.monotonic() < deadline, text
        time.sleep(0.5)
    assert text.startswith("capturing on cap0, 1 thread: ")
    assert "0 drops" in text and "disk free" in text
    status = sensor.machine.systemctl("status", SERVICE, "--no-pager", check=False)
    assert 'Status: "capturing on cap0' in status, status


def test_the_journal_has_steno_fields(sensor: Sensor) -> None:
    records = sensor.machine.journal("-u", SERVICE, "SYSLOG_IDENTIFIER=stenographer")
    assert records, sensor.log()
    uid = sensor.machine.run(["id", "-u", "stenographer"]).stdout.strip()
    assert {r["_UID"] for r in records} == {uid}
    bare = [(r.get("_TRANSPORT"), r["MESSAGE"]) for r in records if "STENO_ACTOR" not in r]
    assert not bare, bare
    actors = {r["STENO_ACTOR"] for r in records}
    assert {"daemon", "capture", "query"} <= actors, actors
    queries = [r for r in records if r.get("STENO_QUERY") == "after 1m ago"]
    assert queries and queries[-1]["STENO_OUTCOME"] == "ok", queries
    assert {r["STENO_THREAD"] for r in records if "STENO_THREAD" in r} == {"0"}
    stats = [r for r in records if "Thread 0 stats" in r["MESSAGE"]]
    assert stats and stats[-1]["PRIORITY"] == "6"
    assert any("pinging every 10.0 s" in r["MESSAGE"] for r in records)
    # And nothing of ours came through stderr as plain lines.
    plain = sensor.machine.journal("-u", SERVICE, "_TRANSPORT=stdout")
    assert not [r for r in plain if "Traceback" in r.get("MESSAGE", "")], plain


def test_only_stenotype_holds_capture_capabilities_and_both_are_confined(
    sensor: Sensor,
) -> None:
    main = int(sensor.service("MainPID")["MainPID"])
    daemon = sensor.status(main)
    capture = sensor.status(sensor.stenotype(main))
    uid = sensor.machine.run(["id", "-u", "stenographer"]).stdout.strip()
    for s in (daemon, capture):
        assert s["Uid"].split()[0] == uid
        assert s["NoNewPrivs"] == "1"
        assert s["Seccomp"] == "2"  # filtering
    assert int(daemon["CapEff"], 16) == 0
    assert int(daemon["CapPrm"], 16) == int(daemon["CapAmb"], 16) == CAPTURE
    assert int(daemon["CapBnd"], 16) == CAPTURE
    caps = [int(capture[k], 16) for k in ("CapEff", "CapPrm", "CapInh", "CapAmb")]
    assert caps == [0] * 4, f"{capture['Name']} {capture['Pid']}: {capture}\n{sensor.log()}"
    # systemd's filters, plus stenotype's own allow-list on top.
    assert int(capture["Seccomp_filters"]) == int(daemon["Seccomp_filters"]) + 1


def test_a_hung_actor_makes_the_watchdog_restart_the_service(sensor: Sensor) -> None:
    m = sensor.machine
    before = sensor.service("MainPID", "NRestarts", "WatchdogUSec")
    assert before["WatchdogUSec"] == "20s"
    assert sensor.curl("/debug/hang", "-X", "POST", "-d", "cleanup").startswith("cleanup hangs")
    hung_at = time.monotonic()
    deadline = hung_at + 90
    while True:
        now = sensor.service("MainPID", "NRestarts", "ActiveState", "SubState")
        if now["NRestarts"] == "1" and now["SubState"] == "running":
            break
        assert time.monotonic() < deadline, f"{now}\n{sensor.log()}"
        time.sleep(0.5)
    print(f"hang to running again: {time.monotonic() - hung_at:.1f} s")
    assert now["MainPID"] != before["MainPID"]
    log = sensor.log()
    assert "Not pinging systemd's watchdog: cleanup made no progress" in log
    assert "Watchdog timeout" in log
    assert "Failed with result 'watchdog'" in log
    # systemd's own record of it: Result=watchdog (the property itself is reset
    # by the automatic restart).
    results = m.journal("UNIT=" + SERVICE, "_PID=1")
    assert [r["UNIT_RESULT"] for r in results if "UNIT_RESULT" in r] == ["watchdog"]
    # The socket held the port throughout; the new daemon serves on it.
    assert m.show(SOCKET, "ActiveState")["ActiveState"] == "active"
    rc, _out, err = sensor.stenoread("after 1m ago", "-w", "-")
    assert rc == 0, err


def test_stop_seals_the_open_file(sensor: Sensor) -> None:
    packets_dir = sensor.machine.path(f"{DATA}/packets")
    index_dir = sensor.machine.path(f"{DATA}/index")
    deadline = time.monotonic() + 20
    while not (hidden := [p.name for p in packets_dir.iterdir() if p.name.startswith(".")]):
        assert time.monotonic() < deadline, "stenotype always has an open (hidden) file"
        time.sleep(0.2)
    sensor.machine.systemctl("stop", SERVICE)
    state = sensor.service("ActiveState", "Result")
    assert state == {"ActiveState": "inactive", "Result": "success"}, state
    for directory in (packets_dir, index_dir):
        left = [p.name for p in directory.iterdir() if p.name.startswith(".")]
        assert not left, f"{directory}: {left} {hidden}\n{sensor.log()}"
    # The file that was open is now sealed: visible, with its index.
    for name in hidden:
        assert (packets_dir / name[1:]).exists() and (index_dir / name[1:]).exists(), name
    log = sensor.log()
    assert "finishing files and exiting" in log
    assert "Stopped" in log or "Deactivated successfully" in log
    # Stopping the service leaves the socket listening: the next query starts it again.
    assert sensor.machine.show(SOCKET, "ActiveState")["ActiveState"] == "active"


def test_the_service_runs_debians_python(sensor: Sensor) -> None:
    """An interpreter under /root (pyenv) is not executable by the service user;
    the environment is Debian's python3, whatever runs the tests."""
    link = os.readlink(sensor.machine.path("/opt/steno/bin/python"))
    assert link in ("/usr/bin/python3", "python3"), link
