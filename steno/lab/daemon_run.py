"""Running the real ``stenographer`` daemon in a lab namespace, with real
certificates from ``stenokeys`` and queries through the real ``stenoread``.

Used by the end-to-end tests and the demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from steno.lab.netns import Lab
from steno.lab.stenotype_run import SMALL

PORT = 19123


def venv_tool(name: str) -> str:
    """A console script of this checkout's environment (beside its Python)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


class Stenographer:
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
    ) -> None:
        self.lab = lab
        self.base = base
        self.port = port
        self.config_path = base / "config"
        self.log_path = base / "stenographer.log"
        self.cert_path = base / "certs"
        self.proc: subprocess.Popen[Any] | None = None
        base.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "Threads": [
                {
                    "PacketsDirectory": str(base / f"thread{i}" / "packets"),
                    "IndexDirectory": str(base / f"thread{i}" / "index"),
                    "DiskFreePercentage": 1,
                    "MaxDirectoryFiles": 30000,
                    **(thread_extra or {}),
                }
                for i in range(threads)
            ],
            "StenotypePath": venv_tool("stenotype"),
            "Interface": "cap0",
            "Port": port,
            "Host": "127.0.0.1",
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
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        try:
            self.proc = self.lab.popen(
                [sys.executable, "-m", "steno.cli.stenographer", "-config", str(self.config_path)],
                stdout=log,
                stderr=log,
                env=env,
            )
        finally:
            log.close()
        deadline = time.monotonic() + ready_timeout
        while "stenographer ready" not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"stenographer exited with {self.proc.returncode}:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"stenographer not ready after {ready_timeout} s:\n{self.log()}"
                )
            time.sleep(0.05)
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 40.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.lab.stop(self.proc, 1)
            raise AssertionError(f"stenographer ignored SIGTERM:\n{self.log()}") from None

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
        argv += [*args, f"https://127.0.0.1:{self.port}{path}"]
        return self.lab.run_bytes(argv, timeout=60)
