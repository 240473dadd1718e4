"""Running the real ``stenographer`` daemon in a lab namespace, with real
certificates from ``stenokeys`` and queries through the real ``stenoread``.

Used by the end-to-end tests and the demo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from steno.lab.curl import curl_argv
from steno.lab.logged_process import LoggedProcess
from steno.lab.netns import Lab
from steno.lab.stenotype_run import SMALL
from steno.store.naming import ThreadDirs

PORT = 19123
HOST = "127.0.0.1"


def venv_tool(name: str) -> str:
    """A console script of this checkout's environment (beside its Python)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


class Stenographer(LoggedProcess):
    """One daemon capturing on the lab's cap0, answering on the lab's loopback."""

    def __init__(
        self,
        lab: Lab,
        base: Path,
        *,
        threads: int = 1,
        flags: Sequence[str] = SMALL,
        port: int = PORT,
        thread_extra: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        dirs: Sequence[ThreadDirs] | None = None,
        cert_dir: Path | None = None,
    ) -> None:
        """``dirs``: serve (and capture into) these existing thread directories
        rather than new ones under ``base``.  ``cert_dir``: use the certificates
        there (steno's or upstream's ``stenokeys``) rather than make new ones."""
        super().__init__(lab, "stenographer", base / "stenographer.log")
        self.base = base
        self.port = port
        self.config_path = base / "config"
        self.cert_path = base / "certs" if cert_dir is None else cert_dir
        base.mkdir(parents=True, exist_ok=True)
        if dirs is None:
            dirs = [
                ThreadDirs(i, base / f"thread{i}" / "packets", base / f"thread{i}" / "index")
                for i in range(threads)
            ]
        self.dirs = list(dirs)
        config: dict[str, Any] = {
            "Threads": [
                {
                    "PacketsDirectory": str(d.packets),
                    "IndexDirectory": str(d.index),
                    "DiskFreePercentage": 1,
                    "MaxDirectoryFiles": 30000,
                    **(thread_extra or {}),
                }
                for d in self.dirs
            ],
            "StenotypePath": venv_tool("stenotype"),
            "Interface": "cap0",
            "Port": port,
            "Host": HOST,
            "Flags": ["--uid=root", "--gid=root", *flags],
            "CertPath": str(self.cert_path),
            **(extra or {}),
        }
        self.config_path.write_text(json.dumps(config, indent=2))

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "STENOGRAPHER_CONFIG": str(self.config_path)}

    def make_certs(self) -> None:
        subprocess.run(
            [venv_tool("stenokeys"), "root", "root"],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(
        self, *, ready_timeout: float = 30.0, env: Mapping[str, str] | None = None
    ) -> Stenographer:
        """Starts the daemon (with `env` as its environment, if given); returns once ready."""
        if not (self.cert_path / "ca_cert.pem").exists():
            self.make_certs()
        self.launch(self._argv(), ready="stenographer ready", timeout=ready_timeout, env=env)
        return self

    def start_socket_activated(self, *activate_flags: str) -> subprocess.Popen[Any]:
        """Starts the daemon as systemd's socket activation does: the port is
        listened on by ``systemd-socket-activate`` (given ``activate_flags``),
        which starts the daemon on the first connection -- so nothing is
        waited for here."""
        activate = shutil.which("systemd-socket-activate")
        if activate is None:
            raise AssertionError("systemd-socket-activate (part of systemd) is missing")
        argv = [activate, "-l", f"{HOST}:{self.port}", *activate_flags, *self._argv()]
        return self.launch(argv, ready=lambda: True, timeout=0)

    def _argv(self) -> list[str]:
        return [sys.executable, "-m", "steno.cli.stenographer", "-config", str(self.config_path)]

    def stop(self, timeout: float = 40.0) -> int:
        return self.terminate(timeout)

    def stenoread(
        self, query: str, *args: str, timeout: float = 120.0, tool: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Runs stenoread (steno's, or another, e.g. Debian's) inside the lab."""
        return self.lab.run_bytes(
            [tool or venv_tool("stenoread"), query, *args], env=self.env, timeout=timeout
        )

    def curl(self, path: str, *args: str, cert: bool = True) -> subprocess.CompletedProcess[bytes]:
        c = self.cert_path
        argv = ["curl", "-sS", "--cacert", str(c / "ca_cert.pem")]
        if cert:
            argv += ["--cert", str(c / "client_cert.pem"), "--key", str(c / "client_key.pem")]
        argv += [*args, self.url(path)]
        return self.lab.run_bytes(argv, timeout=60)

    def url(self, path: str) -> str:
        return f"https://{HOST}:{self.port}{path}"

    def curl_argv(
        self, path: str, *, data: str | None = None, max_time: float = 900.0
    ) -> list[str]:
        """curl with the client certificate, streaming the body to stdout unbuffered,
        the HTTP status last on stderr (as ``UpstreamServer.curl_argv``)."""
        return curl_argv(self.cert_path, self.url(path), data=data, max_time=max_time)

    def tracked(self, thread: int = 0) -> set[str]:
        """Names of the files thread N's catalogue holds (``/debug/t<N>/files``)."""
        done = self.curl(f"/debug/t{thread}/files", "--fail")
        if done.returncode != 0:
            raise AssertionError(f"/debug/t{thread}/files: {done.stderr.decode(errors='replace')}")
        lines = done.stdout.decode(errors="replace").splitlines()[1:]
        return {ln.strip() for ln in lines if ln.strip()}
