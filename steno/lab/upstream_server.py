"""Running Debian's upstream ``stenographer`` server (1.0.1) in a lab, and querying it.

The server is upstream's whole deployment: it writes its configuration's
``Threads`` directories, spawns ``stenotype`` on the lab's ``cap0`` (through a
temporary directory of symlinks, reference §1.3), picks up new files every 15
seconds and answers ``POST /query`` over mutual TLS on the namespace's
loopback.  The differential test (``tests/lab/test_upstream_server.py``) and
the query benchmark (``bench/query.py``) use it.

Upstream quirks this works around, each seen in the lab:

* **Certificates.** ``stenokeys`` (openssl and jq) makes a CA, a server and a
  client certificate in the config's ``CertPath``, named after its ``Host``;
  curl verifies the server by the CN, so clients use ``https://127.0.0.1``,
  never ``localhost``.  Making the three 4096-bit keys takes seconds, so
  :func:`make_certs` skips a directory that already has them.
* **Watchdogs.** stenotype's packet-thread watchdog is fed only when a block
  arrives, so an idle link aborts it after ``2 x --fileage_sec`` (issue #94),
  and the server exits for good if stenotype dies within a minute of its
  start.  :data:`DEFAULT_FLAGS` has ``--no_watchdogs``.
* **Stopping.** The server exits on SIGTERM without stopping stenotype, which
  gets SIGTERM through ``PR_SET_PDEATHSIG``, writes its last index and then
  never exits (its last packet file stays hidden).  :meth:`UpstreamServer.stop`
  therefore remembers stenotype's PID (with its start time, so that a reused
  PID is never signalled) and ends it itself, SIGKILL after a grace period.
* **Privileges.** Run as root, stenotype drops to ``nobody:nogroup`` unless
  told otherwise, and then cannot write to root's directories:
  ``--uid=root --gid=root``.
* **Disk cleanup.** Each sync deletes the oldest files while the packet
  filesystem has less than ``DiskFreePercentage`` free (default 10);
  :meth:`UpstreamServer.config` sets 1, so that a benchmark's store is never
  pruned behind its back on a shared disk.
* **Visibility.** A file is queryable only after both halves are renamed and a
  sync (every 15 s) has tracked it: :meth:`UpstreamServer.wait_tracked`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from steno.lab.curl import curl_argv
from steno.lab.logged_process import LoggedProcess
from steno.lab.netns import Lab, LabError
from steno.store.naming import ThreadDirs, is_hidden, parse_micros

STENOGRAPHER = "/usr/sbin/stenographer"
STENOTYPE = "/usr/sbin/stenotype"
STENOKEYS = "/usr/sbin/stenokeys"
STENOREAD = "/usr/bin/stenoread"
HOST = "127.0.0.1"
DEFAULT_PORT = 1234
SYNC_SECONDS = 15.0
"""How often the server looks for new files (reference §4.3)."""
BLOCK_SIZE = 1 << 20

DEFAULT_FLAGS = (
    "--uid=root",
    "--gid=root",
    "--blocks=16",
    "--aiops=4",
    "--filesize_mb=16",
    "--fileage_sec=2",
    "--blockage_sec=1",
    "--no_watchdogs",
    "-v",
)
"""Small and quick, for tests: 16 MiB ring, files rotated every ~3 s."""


class UpstreamServerError(LabError):
    """The server would not start, serve or answer."""


def make_certs(cert_dir: Path, *, host: str = HOST, timeout: float = 180.0) -> Path:
    """Upstream's ``stenokeys root root`` into cert_dir (skipped if its files exist)."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    if all((cert_dir / n).exists() for n in ("ca_cert.pem", "client_key.pem", "server_key.pem")):
        return cert_dir
    config = cert_dir / "stenokeys.config"
    config.write_text(json.dumps({"Host": host, "CertPath": str(cert_dir)}))
    env = {**os.environ, "STENOGRAPHER_CONFIG": str(config)}
    proc = subprocess.run(
        [STENOKEYS, "root", "root"],
        env=env,
        cwd=cert_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise UpstreamServerError(f"stenokeys failed ({proc.returncode}): {proc.stderr.strip()}")
    return cert_dir


@attrs.frozen
class Answer:
    """One HTTP answer of the server."""

    status: int
    body: bytes
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == 200


def _start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields follow the last ')'.
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            kids += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return kids


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


class UpstreamServer(LoggedProcess):
    """Upstream's ``stenographer`` in a lab namespace, capturing on ``cap0``.

    Thread N stores into ``base/thread<N>/{packets,index}``; the config is
    ``base/config``, the log (the server's and stenotype's) ``base/server.log``.
    """

    def __init__(
        self,
        lab: Lab,
        base: Path,
        *,
        threads: int = 1,
        flags: Sequence[str] = DEFAULT_FLAGS,
        port: int = DEFAULT_PORT,
        cert_dir: Path | None = None,
        interface: str | None = None,
        stenotype_path: str = STENOTYPE,
        max_open_files: int = 0,
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        super().__init__(lab, "stenographer", base / "server.log", error=UpstreamServerError)
        self.base = base
        self.threads = threads
        self.flags = tuple(flags)
        self.port = port
        self.cert_dir = cert_dir if cert_dir is not None else base / "certs"
        self.interface = lab.cap if interface is None else interface
        self.stenotype_path = stenotype_path
        self.max_open_files = max_open_files
        self.config_path = base / "config"
        self._stenotypes: dict[int, int | None] = {}  # pid -> start time
        self._verbose = any(f.startswith("-v") for f in self.flags)

    # -- configuration --

    def dirs(self, thread: int = 0) -> ThreadDirs:
        t = self.base / f"thread{thread}"
        return ThreadDirs(thread, t / "packets", t / "index")

    def all_dirs(self) -> list[ThreadDirs]:
        return [self.dirs(n) for n in range(self.threads)]

    @property
    def tmpdir(self) -> Path:
        return self.base / "tmp"

    def symlink_dir(self) -> Path:
        """The ``--dir`` the server gave stenotype: ``PKT<N>``/``IDX<N>`` symlinks
        to the configured directories (reference §1.3)."""
        found = sorted(self.tmpdir.glob("stenographer*"))
        if not found:
            raise UpstreamServerError(f"no stenographer* directory in {self.tmpdir}")
        return found[-1]

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "Threads": [
                {
                    "PacketsDirectory": str(d.packets),
                    "IndexDirectory": str(d.index),
                    "DiskFreePercentage": 1,
                    "MaxDirectoryFiles": 30000,
                }
                for d in self.all_dirs()
            ],
            "StenotypePath": self.stenotype_path,
            "Interface": self.interface,
            "Port": self.port,
            "Host": HOST,
            "CertPath": str(self.cert_dir),
            "Flags": list(self.flags),
        }
        if self.max_open_files:
            cfg["MaxOpenFiles"] = self.max_open_files
        return cfg

    @property
    def client_env(self) -> dict[str, str]:
        """Environment for upstream's own clients (stenoread, stenocurl)."""
        return {**os.environ, "STENOGRAPHER_CONFIG": str(self.config_path)}

    # -- lifecycle --

    def start(self, *, ready_timeout: float = 60.0) -> UpstreamServer:
        """Starts the server; returns once it answers and stenotype is capturing."""
        self.base.mkdir(parents=True, exist_ok=True)
        make_certs(self.cert_dir)
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        # The server makes its directory of symlinks with mkdtemp, which honours
        # TMPDIR, and never removes it (it exits through log.Fatal): keep it here.
        self.tmpdir.mkdir(exist_ok=True)
        self.launch(
            [STENOGRAPHER, f"-config={self.config_path}", "-syslog=false"],
            ready=self._ready,
            timeout=ready_timeout,
            env={**os.environ, "TMPDIR": str(self.tmpdir)},
            poll=0.1,
            stdin=subprocess.DEVNULL,
        )
        return self

    def _ready(self) -> bool:
        """Serving, and every stenotype it started is capturing."""
        self._remember_stenotypes()
        # stenotype says so only with -v; without it, its being alive must do.
        capturing = not self._verbose or (
            self.log().count("starting to process packets") >= self.threads
        )
        return capturing and bool(self._stenotypes) and self.serving()

    def _remember_stenotypes(self) -> None:
        if self.proc is None:
            return
        for pid in _children(self.proc.pid):
            if pid not in self._stenotypes and any(
                a.endswith("stenotype") for a in _cmdline(pid)[:1]
            ):
                self._stenotypes[pid] = _start_time(pid)

    def stenotype_pids(self) -> list[int]:
        """The stenotype processes this server started that are still running."""
        self._remember_stenotypes()
        return [p for p, t in self._stenotypes.items() if t is not None and _start_time(p) == t]

    def stop(self, grace: float = 3.0) -> None:
        """Stops the server (by PID), then every stenotype it started."""
        self._remember_stenotypes()
        if self.proc is not None:
            self.lab.stop(self.proc, grace)
        deadline = time.monotonic() + grace
        alive = self.stenotype_pids()
        for pid in alive:  # PR_SET_PDEATHSIG already sent SIGTERM; repeat it
            _signal(pid, self._stenotypes[pid], signal.SIGTERM)
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = self.stenotype_pids()
        for pid in alive:
            _signal(pid, self._stenotypes[pid], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.stenotype_pids() and time.monotonic() < deadline:
            time.sleep(0.05)

    def __enter__(self) -> UpstreamServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP --

    def url(self, path: str) -> str:
        return f"https://{HOST}:{self.port}{path}"

    def curl_argv(
        self,
        path: str,
        *,
        data: str | None = None,
        headers: Mapping[str, str] | None = None,
        write_out: str = "%{stderr}%{http_code}",
        max_time: float = 900.0,
    ) -> list[str]:
        """curl with the client certificate, streaming the body to stdout unbuffered."""
        return curl_argv(
            self.cert_dir,
            self.url(path),
            data=data,
            headers=headers,
            write_out=write_out,
            max_time=max_time,
        )

    def get(
        self,
        path: str,
        *,
        data: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120.0,
    ) -> Answer:
        """One request, run to completion inside the namespace."""
        argv = self.curl_argv(path, data=data, headers=headers, max_time=timeout)
        t0 = time.monotonic()
        proc = self.lab.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=timeout + 10)
        except subprocess.TimeoutExpired:
            self.lab.stop(proc)
            raise UpstreamServerError(f"curl {path} did not finish in {timeout + 10} s") from None
        finally:
            self.lab.stop(proc)
        seconds = time.monotonic() - t0
        tail = err.decode(errors="replace").strip().splitlines()
        try:
            status = int(tail[-1][-3:]) if tail else 0
        except ValueError:
            status = 0
        if proc.returncode != 0 and status == 0:
            raise UpstreamServerError(f"curl {path} failed ({proc.returncode}): {tail}")
        return Answer(status, out, seconds)

    def serving(self) -> bool:
        try:
            return self.get("/debug/stats", timeout=5).ok
        except (UpstreamServerError, subprocess.TimeoutExpired):
            return False

    def query(
        self,
        query: str,
        *,
        limit_packets: int | None = None,
        limit_bytes: int | None = None,
        timeout: float = 300.0,
    ) -> Answer:
        """POST /query: the pcap (200), or upstream's error text (400)."""
        headers = {}
        if limit_packets is not None:
            headers["Steno-Limit-Packets"] = str(limit_packets)
        if limit_bytes is not None:
            headers["Steno-Limit-Bytes"] = str(limit_bytes)
        return self.get("/query", data=query, headers=headers, timeout=timeout)

    def stats(self) -> dict[str, int]:
        answer = self.get("/debug/stats", timeout=10)
        out: dict[str, int] = {}
        for line in answer.body.decode(errors="replace").splitlines():
            name, _, value = line.partition("\t")
            if value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out

    def tracked(self, thread: int = 0) -> set[str]:
        """Names of the files thread N tracks (``/debug/t<N>/files``)."""
        answer = self.get(f"/debug/t{thread}/files", timeout=10)
        if not answer.ok:
            raise UpstreamServerError(f"/debug/t{thread}/files: HTTP {answer.status}")
        lines = answer.body.decode(errors="replace").splitlines()[1:]
        return {ln.strip() for ln in lines if ln.strip()}

    def wait_tracked(self, names: Iterable[tuple[int, str]], timeout: float = 40.0) -> None:
        """Waits until the server tracks every (thread, name): at most one sync
        (15 s) after both halves of a file are visible."""
        want: dict[int, set[str]] = {}
        for thread, name in names:
            want.setdefault(thread, set()).add(name)
        deadline = time.monotonic() + timeout
        while True:
            missing = {t: n - self.tracked(t) for t, n in want.items()}
            if not any(missing.values()):
                return
            if not self.running():
                raise UpstreamServerError(f"stenographer died:\n{self.log()}")
            if time.monotonic() > deadline:
                raise UpstreamServerError(
                    f"files not tracked after {timeout} s: {missing}\n{self.log()[-4000:]}"
                )
            time.sleep(0.5)

    # -- the store --

    def sealed(self, thread: int = 0) -> list[str]:
        """Names with both a visible packet file and a visible index, in time order."""
        d = self.dirs(thread)
        try:
            pkt = {n for n in os.listdir(d.packets) if not is_hidden(n) and parse_micros(n)}
            idx = {n for n in os.listdir(d.index) if not is_hidden(n) and parse_micros(n)}
        except FileNotFoundError:
            return []
        return sorted(pkt & idx, key=int)


def _signal(pid: int, started: int | None, sig: int) -> None:
    """Signals pid only if it is still the process that started at `started`."""
    if started is None or _start_time(pid) != started:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
