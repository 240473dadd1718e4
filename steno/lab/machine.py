"""A real systemd, as PID 1, for tests of the shipped units: a lab machine.

The machine this runs on does not boot with systemd (PID 1 is something else,
``systemctl`` cannot operate), so the tests boot one of their own:

* **file system**: an overlay whose lower layer is the host's root file
  system and whose upper layer is a scratch directory, so the machine sees
  the host's systemd, Python and tools, and everything it writes (units,
  users, /etc/stenographer, journal) lands in the scratch directory.  /proc,
  /sys (read-only), cgroup file systems, /dev (a tmpfs with fresh device
  nodes -- never host nodes: systemd chowns /dev/console), /run and /tmp are
  its own.  Directories systemd's ``ProtectHome=``/``PrivateTmp=`` would hide
  (a checkout under /root, a venv under /tmp) are bind-mounted read-only
  under /opt instead (:data:`CHECKOUT`, :data:`DEPS`).
* **namespaces**: PID, mount, UTS, IPC and cgroup namespaces of its own
  (``unshare``), inside a lab's network namespace, so the units' sockets and
  capture interface are the lab's (loopback, ``cap0``).
* **cgroups**: a cgroup of its own on the host (``/sys/fs/cgroup/<hierarchy>/
  steno-machine-<id>``), which the cgroup namespace makes the machine's root.
* **boot**: ``/lib/systemd/systemd --unit=basic.target``: sysinit (journald,
  tmpfiles, sysusers) and sockets, but none of the host's own services;
  timers are masked so nothing periodic (apt, logrotate) runs in there.

Commands run inside with ``nsenter --all --root --wd`` (:meth:`run`); files
are reached from outside through ``/proc/<PID 1>/root`` (:meth:`path`).

Safety and clean-up: the mounts are made in a mount namespace whose mounts
are private before the first one is made; where ``/`` is not a mount point
(a chroot) that cannot be requested, so the overlay mount itself is checked
for propagation (a ``shared:`` tag) and refused if it has one.  Nothing is
written to the host's /run (the machine's /run/systemd/system is on its own
tmpfs).  :meth:`close` powers the machine off (SIGKILL of its PID 1 if that
takes too long, which ends every process in its PID namespace and with it
every mount), removes the cgroup directories depth first, and the scratch
directory.

This module is also the program that runs inside the new namespaces before
systemd (``python -m steno.lab.machine stage2 '<json>'``): it makes the
mounts and execs systemd.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from steno.lab.netns import Lab, LabError

#: Where the machine sees the checkout (units/, docs/, the steno package) and
#: the test environment's site-packages.
CHECKOUT = "/opt/steno-checkout"
DEPS = "/opt/steno-deps"
_MASKED = (
    "timers.target",
    "systemd-firstboot.service",
    "console-getty.service",
    "getty.target",
    "systemd-networkd.service",
    "systemd-resolved.service",
    "systemd-timesyncd.service",
)
_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9))


class MachineError(LabError):
    """The machine could not be booted, or a command in it failed."""


def _hierarchies() -> list[Path]:
    """The host's cgroup hierarchies systemd uses: unified and name=systemd
    (hybrid, as on these machines), or the one cgroup2 mount."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return [root]
    found = [root / h for h in ("unified", "systemd") if (root / h).is_dir()]
    if not found:
        raise MachineError("no cgroup2 or name=systemd hierarchy under /sys/fs/cgroup")
    return found


class SystemdMachine:
    """systemd as PID 1 in a lab's network namespace (see the module docstring)."""

    def __init__(
        self,
        lab: Lab,
        *,
        binds: Mapping[str, str] | None = None,
        boot_timeout: float = 60.0,
        stop_timeout: float = 60.0,
    ) -> None:
        self.lab = lab
        self.name = f"steno-machine-{os.getpid()}-{secrets.token_hex(3)}"
        self.binds = dict(binds or {})
        self.boot_timeout = boot_timeout
        self.stop_timeout = stop_timeout
        self.pid1: int | None = None
        self.boot_seconds: float | None = None
        self._unshare: subprocess.Popen[bytes] | None = None
        self._scratch: Path | None = None
        self._cgroups: list[Path] = []
        self.degraded = ""  # `systemctl --failed` after a degraded boot

    @property
    def scratch(self) -> Path | None:
        """The upper layer, work directory and mount point (None once closed)."""
        return self._scratch

    @property
    def cgroups(self) -> list[Path]:
        """The machine's cgroups on the host, one per hierarchy."""
        return list(self._cgroups)

    # -- lifecycle --

    def __enter__(self) -> SystemdMachine:
        self.boot()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def boot(self) -> None:
        nsenter, unshare = shutil.which("nsenter"), shutil.which("unshare")
        if nsenter is None or unshare is None:
            raise MachineError("booting a machine needs util-linux's nsenter and unshare")
        if not Path("/lib/systemd/systemd").exists():
            raise MachineError("booting a machine needs systemd (/lib/systemd/systemd)")
        started = time.monotonic()
        try:
            self._scratch = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
            for sub in ("upper", "work", "root"):
                (self._scratch / sub).mkdir()
            (self._scratch / "upper").chmod(0o755)  # the machine's / (see stage2)
            hierarchies = _hierarchies()
            for h in hierarchies:
                cg = h / self.name
                cg.mkdir()
                self._cgroups.append(cg)
            spec = {
                "scratch": str(self._scratch),
                "binds": self.binds,
                "unified": len(hierarchies) == 1,
            }
            procs = [str(cg / "cgroup.procs") for cg in self._cgroups]

            def join_cgroup() -> None:  # in the child, before exec: unshare --cgroup roots here
                for path in procs:
                    with open(path, "w") as f:
                        f.write("0")

            self._unshare = subprocess.Popen(
                [
                    nsenter,
                    f"--net=/run/netns/{self.lab.name}",
                    "--",
                    unshare,
                    "--pid",
                    "--fork",
                    "--mount",
                    "--uts",
                    "--ipc",
                    "--cgroup",
                    "--propagation=unchanged",  # stage2 makes its mounts private itself
                    "--",
                    sys.executable,
                    "-m",
                    "steno.lab.machine",
                    "stage2",
                    json.dumps(spec),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=open(self._scratch / "stage2.log", "wb"),  # noqa: SIM115 - the child's
                preexec_fn=join_cgroup,
                close_fds=True,
            )
            self.pid1 = self._find_pid1()
            self._wait_running(started)
        except BaseException:
            self.close()
            raise
        self.boot_seconds = time.monotonic() - started

    def _find_pid1(self) -> int:
        assert self._unshare is not None
        deadline = time.monotonic() + 20
        children = Path(f"/proc/{self._unshare.pid}/task/{self._unshare.pid}/children")
        while time.monotonic() < deadline:
            if self._unshare.poll() is not None:
                raise MachineError(f"the machine did not start:\n{self.stage2_log()}")
            try:
                pids = children.read_text().split()
            except OSError:
                pids = []
            if pids:
                return int(pids[0])
            time.sleep(0.02)
        raise MachineError("unshare did not fork the machine's PID 1 within 20 s")

    def _wait_running(self, started: float) -> None:
        """Until the boot job is done: ``running`` (or ``degraded``: a unit failed)."""
        state = ""
        while time.monotonic() - started < self.boot_timeout:
            if self._unshare is not None and self._unshare.poll() is not None:
                raise MachineError(f"the machine's PID 1 exited:\n{self.stage2_log()}")
            proc = self.run(["systemctl", "is-system-running"], check=False, timeout=10)
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                if state == "degraded":
                    failed = self.run(["systemctl", "--failed", "--no-legend"], check=False)
                    self.degraded = failed.stdout.strip()
                return
            time.sleep(0.1)
        raise MachineError(
            f"the machine is not running after {self.boot_timeout} s (state {state!r}):\n"
            f"{self.stage2_log()}"
        )

    def stage2_log(self) -> str:
        if self._scratch is None:
            return ""
        try:
            return (self._scratch / "stage2.log").read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        """Powers off (kills, if need be), then removes the cgroups and the scratch directory."""
        errors: list[str] = []
        if self._unshare is not None:
            if self._unshare.poll() is None and self.pid1 is not None:
                self.run(["systemctl", "--no-block", "poweroff"], check=False, timeout=10)
                try:
                    self._unshare.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    errors.append(f"the machine did not power off within {self.stop_timeout} s")
            if self._unshare.poll() is None:
                # PID 1 of the namespace: killing it kills every process in it.
                if self.pid1 is not None:
                    _kill(self.pid1)
                try:
                    self._unshare.wait(20)
                except subprocess.TimeoutExpired:
                    _kill(self._unshare.pid)
                    self._unshare.wait(20)
            self._unshare = None
        for cg in reversed(self._cgroups):
            if not _remove_cgroup(cg):
                errors.append(f"cgroup {cg} is still in use")
        self._cgroups.clear()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        self.pid1 = None
        if errors:
            raise MachineError("; ".join(errors))

    # -- inside the machine --

    def _enter(self, argv: Sequence[str]) -> list[str]:
        if self.pid1 is None:
            raise MachineError("the machine is not running")
        return ["nsenter", "-t", str(self.pid1), "--all", "--root", "--wd", "--", *argv]

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Runs argv inside the machine (all its namespaces, its root) to completion."""
        base = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        proc = subprocess.run(
            self._enter(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**base, "LANG": "C.UTF-8", **(env or {})},
            check=False,
        )
        if check and proc.returncode != 0:
            raise MachineError(
                f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )
        return proc

    def run_bytes(
        self, argv: Sequence[str], *, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            self._enter(argv),
            capture_output=True,
            timeout=timeout,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
            check=False,
        )

    def systemctl(self, *args: str, check: bool = True) -> str:
        return self.run(["systemctl", *args], check=check).stdout

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.systemctl("show", unit, *(f"--property={p}" for p in properties))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, *args: str) -> list[dict[str, Any]]:
        """``journalctl -o json`` records (after a sync)."""
        self.run(["journalctl", "--sync"], check=False)
        out = self.run(["journalctl", "--no-pager", "-o", "json", *args], check=False).stdout
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def path(self, inside: str) -> Path:
        """A path inside the machine, as the host reaches it."""
        if self.pid1 is None:
            raise MachineError("the machine is not running")
        return Path(f"/proc/{self.pid1}/root") / inside.lstrip("/")


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _remove_cgroup(cg: Path, timeout: float = 10.0) -> bool:
    """rmdir depth first; a cgroup whose last process is still exiting is busy
    for a moment, so retry."""
    deadline = time.monotonic() + timeout
    while True:
        if not cg.exists():
            return True
        busy = False
        for dirpath, _dirs, _files in sorted(os.walk(cg), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass
            except OSError:
                busy = True
        if not busy and not cg.exists():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


# -- stage 2: inside the new namespaces, before systemd ------------------------------------


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def _make_mounts_private() -> None:
    """So that nothing mounted from here on shows up in the host's namespace."""
    if subprocess.run(["mount", "--make-rprivate", "/"], check=False).returncode == 0:
        return
    # "/" is not a mount point (a chroot): make private what can be named.
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = line.split()[4]
        subprocess.run(["mount", "--make-private", target], check=False, stderr=subprocess.DEVNULL)


def _check_not_propagating(root: Path) -> None:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == str(root) and any(f.startswith("shared:") for f in fields[6:]):
            _sh("umount", str(root))
            raise SystemExit(
                f"stage2: the overlay at {root} would propagate to the host's mount "
                "namespace (its parent mount is shared and cannot be made private): refusing"
            )


def _populate_dev(root: Path) -> None:
    dev = root / "dev"
    _sh("mount", "-t", "tmpfs", "-o", "mode=755,size=16m,nosuid", "tmpfs", str(dev))
    for name, major, minor in _DEVICES:
        os.mknod(dev / name, 0o666 | 0o020000, os.makedev(major, minor))
        os.chmod(dev / name, 0o666)
    os.mknod(dev / "tty", 0o666 | 0o020000, os.makedev(5, 0))
    os.chmod(dev / "tty", 0o666)
    (dev / "pts").mkdir()
    _sh("mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666", "devpts", str(dev / "pts"))
    os.symlink("pts/ptmx", dev / "ptmx")
    (dev / "shm").mkdir()
    _sh("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", str(dev / "shm"))
    (dev / "console").touch()  # a plain file: the machine's console output
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, dev / link)
    os.symlink("/proc/self/fd/1", dev / "stdout")
    os.symlink("/proc/self/fd/2", dev / "stderr")


def stage2(spec: dict[str, Any]) -> None:
    scratch = Path(spec["scratch"])
    root = scratch / "root"
    _make_mounts_private()
    _sh(
        "mount",
        "-t",
        "overlay",
        "overlay",
        "-o",
        f"lowerdir=/,upperdir={scratch / 'upper'},workdir={scratch / 'work'}",
        str(root),
    )
    _check_not_propagating(root)
    # The overlay's / takes the upper directory's mode (0755), whatever the
    # host's is: a stand-in root made from a mktemp directory is 0700, and the
    # service user could not reach anything.
    os.chmod(root, 0o755)
    _sh("mount", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc", str(root / "proc"))
    _sh("mount", "-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", str(root / "sys"))
    cgroup = root / "sys" / "fs" / "cgroup"
    if spec["unified"]:
        _sh("mount", "-t", "cgroup2", "cgroup2", str(cgroup))
    else:
        _sh("mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", str(cgroup))
        for sub in ("unified", "systemd"):
            (cgroup / sub).mkdir()
        _sh("mount", "-t", "cgroup2", "cgroup2", str(cgroup / "unified"))
        _sh("mount", "-t", "cgroup", "-o", "none,name=systemd", "cgroup", str(cgroup / "systemd"))
    _populate_dev(root)
    _sh("mount", "-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "tmpfs", str(root / "run"))
    _sh("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", str(root / "tmp"))
    journal = root / "var" / "log" / "journal"
    journal.mkdir(parents=True, exist_ok=True)  # persistent, but on a tmpfs:
    _sh("mount", "-t", "tmpfs", "-o", "mode=2755", "tmpfs", str(journal))  # not the host's
    for source, target in spec["binds"].items():
        inside = root / target.lstrip("/")
        inside.mkdir(parents=True, exist_ok=True)
        _sh("mount", "--bind", source, str(inside))
        _sh("mount", "-o", "remount,bind,ro", str(inside))
    # The machine's own identity and quiet: no first-boot wizard, no host timers.
    machine_id = root / "etc" / "machine-id"
    if not machine_id.exists() or len(machine_id.read_text().strip()) != 32:
        machine_id.write_text(secrets.token_hex(16) + "\n")
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True, exist_ok=True)
    for unit in _MASKED:
        (units / unit).unlink(missing_ok=True)
        os.symlink("/dev/null", units / unit)
    os.chroot(root)
    os.chdir("/")
    os.execve(
        "/lib/systemd/systemd",
        ["/lib/systemd/systemd", "--unit=basic.target", "--show-status=no"],
        {"container": "steno-lab", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
    )


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "stage2":
        sys.exit("usage: python -m steno.lab.machine stage2 JSON (run by SystemdMachine)")
    stage2(json.loads(sys.argv[2]))
