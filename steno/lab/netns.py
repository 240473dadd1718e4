"""The lab: a private network namespace with a veth pair, for real capture tests.

Rules it keeps (``shared/LAB.md``): both ends of the veth pair exist only
inside a namespace of its own (``steno-<pid>-<random>``), so nothing in the
host's namespace is created, changed or seen; IPv6 is off on the links, so the
kernel sends nothing of its own (no ND, MLD, DAD); offloads are off, so the
capture end sees the frames as sent (except that the kernel still moves the
outer 802.1Q/802.1ad tag into the TPACKET header); MTU 9000, so jumbo frames
pass.  Frames are injected on ``gen0`` and captured on ``cap0``.

Resource handling: every process started with ``popen`` is remembered by PID
and stopped at teardown (SIGTERM, SIGKILL after ``stop_timeout``); the
namespace is deleted at teardown, which also runs when set-up or the body of
the ``with`` raises.  Every command has a timeout.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from steno.lab.pcap import write_pcap_frames
from steno.native.sender import Method, SendResult

GEN = "gen0"
CAP = "cap0"
_OFFLOADS = ("gro", "gso", "tso", "rxvlan", "txvlan")
_CMD_TIMEOUT = 20.0


class LabError(RuntimeError):
    """The lab could not be built, or a command in it failed."""


def _check_prerequisites() -> tuple[str, str]:
    if os.geteuid() != 0:
        raise LabError("the lab needs root: it creates a network namespace and raw sockets")
    ip = shutil.which("ip")
    if ip is None:
        raise LabError("the lab needs iproute2's 'ip' command (apt-get install iproute2)")
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        raise LabError("the lab needs util-linux's 'nsenter' (apt-get install util-linux)")
    return ip, nsenter


class Lab:
    """A network namespace with the veth pair gen0/cap0, both ends inside it."""

    def __init__(
        self, *, prefix: str = "steno-", mtu: int = 9000, stop_timeout: float = 5.0
    ) -> None:
        if not prefix.startswith("steno-"):
            raise ValueError("lab namespaces are named steno-*")
        self.name = f"{prefix}{os.getpid()}-{secrets.token_hex(3)}"
        self.mtu = mtu
        self.stop_timeout = stop_timeout
        self.gen = GEN
        self.cap = CAP
        self._procs: list[subprocess.Popen[Any]] = []
        self._created = False
        self._ip = ""
        self._nsenter = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle --

    def __enter__(self) -> Lab:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        self._ip, self._nsenter = _check_prerequisites()
        try:
            self._host(self._ip, "netns", "add", self.name)
            self._created = True
            # Defaults first, so that the new links are born without IPv6.
            self.run(
                [
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ]
            )
            self.run(
                [
                    self._ip,
                    "link",
                    "add",
                    GEN,
                    "mtu",
                    str(self.mtu),
                    "type",
                    "veth",
                    "peer",
                    "name",
                    CAP,
                    "mtu",
                    str(self.mtu),
                ]
            )
            for dev in (GEN, CAP):
                self.run(["sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1"])
                self._offloads_off(dev)
            for dev in ("lo", GEN, CAP):
                self.run([self._ip, "link", "set", dev, "up"])
            self._tmp = tempfile.TemporaryDirectory(prefix=f"{self.name}-")
        except BaseException:
            self.close()
            raise

    def _offloads_off(self, dev: str) -> None:
        """One feature at a time: veth lacks some, and ethtool then refuses all."""
        ethtool = shutil.which("ethtool")
        if ethtool is None:
            raise LabError("the lab needs ethtool (apt-get install ethtool)")
        for feature in _OFFLOADS:
            self.run([ethtool, "-K", dev, feature, "off"], check=False)

    def close(self) -> None:
        """Stops every remembered process by PID, then deletes the namespace."""
        errors: list[str] = []
        for proc in reversed(self._procs):
            self.stop(proc)
        self._procs.clear()
        if self._created:
            try:
                self._host(self._ip, "netns", "delete", self.name)
                self._created = False
            except LabError as e:
                errors.append(str(e))
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if errors:
            raise LabError("; ".join(errors))

    @property
    def tmpdir(self) -> Path:
        if self._tmp is None:
            raise LabError("the lab is not open")
        return Path(self._tmp.name)

    # -- commands --

    def _host(self, *argv: str) -> None:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=_CMD_TIMEOUT, check=False
        )
        if proc.returncode != 0:
            raise LabError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.returncode}")

    def _wrap(self, argv: Sequence[str]) -> list[str]:
        """argv entering the namespace's network stack only.

        nsenter rather than ``ip netns exec`` (or ``ip -n``): those also make a
        private mount namespace with ``mount --make-rslave /``, which fails
        where / is not a mount point (a chroot, some containers).  Nothing run
        here needs its own /sys: interfaces are found by name through the
        network namespace itself."""
        if not self._created:
            raise LabError("the lab is not open")
        return [self._nsenter, f"--net=/run/netns/{self.name}", "--", *argv]

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = _CMD_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Runs argv inside the namespace to completion (bounded by timeout)."""
        proc = subprocess.run(
            self._wrap(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise LabError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def run_bytes(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float = _CMD_TIMEOUT,
    ) -> subprocess.CompletedProcess[bytes]:
        """Runs argv inside the namespace with its output as bytes (a pcap, say)."""
        return subprocess.run(
            self._wrap(argv),
            capture_output=True,
            env=env,
            input=input,
            timeout=timeout,
            check=False,
        )

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Starts argv inside the namespace; the lab stops it at teardown."""
        # `ip netns exec` execs the command (no fork), so the PID is the command's.
        proc: subprocess.Popen[Any] = subprocess.Popen(self._wrap(argv), **kwargs)
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any], timeout: float | None = None) -> int | None:
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        timeout = self.stop_timeout if timeout is None else timeout
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout)
            except ProcessLookupError:
                pass
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if proc in self._procs:
            self._procs.remove(proc)
        return proc.returncode

    def wait(self, proc: subprocess.Popen[Any], timeout: float) -> int:
        """Waits for proc to end by itself (stopping it if it takes longer)."""
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            raise LabError(f"{proc.args!r} did not finish within {timeout} s") from None
        finally:
            if proc in self._procs and proc.poll() is not None:
                self._procs.remove(proc)

    # -- traffic --

    def python(self, module: str, *args: str) -> list[str]:
        """argv running a module of this checkout with this interpreter."""
        return [sys.executable, "-m", module, *args]

    def send(
        self,
        frames: Sequence[bytes] | tuple[bytes | bytearray, Sequence[int]],
        *,
        count: int | None = None,
        rate: float | None = None,
        max_seconds: float = 30.0,
        method: Method = "mmsg",
        iface: str = GEN,
    ) -> SendResult:
        """Sends frames from iface inside the namespace with the C sender, in a
        subprocess (``python -m steno.lab.send``) reading them from a pcap file.
        frames: a list of frames, or (data, offsets) as in generator.Traffic."""
        path = self.tmpdir / f"send-{secrets.token_hex(4)}.pcap"
        with open(path, "wb") as out:
            if isinstance(frames, tuple):
                data, offsets = frames
                write_pcap_frames(out, data, offsets)
            else:
                write_pcap_frames(out, b"".join(frames), _offsets_of(frames))
        try:
            return self.send_pcap(
                path, count=count, rate=rate, max_seconds=max_seconds, method=method, iface=iface
            )
        finally:
            path.unlink(missing_ok=True)

    def send_pcap(
        self,
        pcap: Path,
        *,
        count: int | None = None,
        rate: float | None = None,
        max_seconds: float = 30.0,
        method: Method = "mmsg",
        iface: str = GEN,
    ) -> SendResult:
        """Sends the frames of a pcap file from iface (round and round until
        ``count``, paced at ``rate`` if given, for at most ``max_seconds``)."""
        argv = self.python(
            "steno.lab.send",
            "--iface",
            iface,
            "--pcap",
            str(pcap),
            "--max-seconds",
            f"{max_seconds:g}",
            "--method",
            method,
        )
        if count is not None:
            argv += ["--count", str(count)]
        if rate:
            argv += ["--rate", str(rate)]
        proc = self.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out_text, err_text = proc.communicate(timeout=max_seconds + 30)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            raise LabError(f"the sender did not finish within {max_seconds + 30:g} s") from None
        self.stop(proc)
        if proc.returncode != 0:
            raise LabError(f"the sender failed ({proc.returncode}): {err_text.strip()}")
        d = json.loads(out_text)
        return SendResult(
            sent=d["sent"],
            errors=d["errors"],
            retries=d["retries"],
            elapsed_ns=d["elapsed_ns"],
            last_error=d["last_error"],
            timed_out=d["timed_out"],
        )

    def read_line(self, stream: IO[str] | None, timeout: float) -> str:
        """One line from a child's pipe, or LabError after timeout."""
        if stream is None:
            raise LabError("the process has no such pipe")
        with selectors.DefaultSelector() as sel:
            sel.register(stream, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise LabError(f"no output within {timeout} s")
        return stream.readline()


def _offsets_of(frames: Sequence[bytes]) -> list[int]:
    offsets = [0]
    for fr in frames:
        offsets.append(offsets[-1] + len(fr))
    return offsets
