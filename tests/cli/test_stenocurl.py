"""stenocurl as a program: curl with the client certificate, against the test server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from steno.cli.stenocurl import curl_command
from steno.config import ClientSettings
from tests.support.tls_server import TLSServer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="certificates are made as root")

STENOCURL = str(Path(sys.executable).parent / "stenocurl")


def run(argv: list[str], config: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STENOGRAPHER_CONFIG": str(config)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=60)


def test_command_line() -> None:
    settings = ClientSettings("127.0.0.1", 1234, Path("/etc/stenographer/certs"))
    assert curl_command("/usr/bin/curl", settings, "/debug/stats", ["-s"]) == [
        "/usr/bin/curl",
        "--cert",
        "/etc/stenographer/certs/client_cert.pem",
        "--key",
        "/etc/stenographer/certs/client_key.pem",
        "--cacert",
        "/etc/stenographer/certs/ca_cert.pem",
        "-s",
        "https://127.0.0.1:1234/debug/stats",
    ]
    v6 = ClientSettings("::1", 1234, Path("/c"))
    assert curl_command("curl", v6, "/x", [])[-2:] == ["--globoff", "https://[::1]:1234/x"]


def test_get_a_debug_page(tls_server: TLSServer, client_config: Path) -> None:
    done = run([STENOCURL, "/debug/stats", "--silent"], client_config)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "GET /debug/stats\n"


def test_curl_arguments_pass_through(tls_server: TLSServer, client_config: Path) -> None:
    done = run([STENOCURL, "/query", "-s", "-d", "port 53", "-o", "/dev/null"], client_config)
    assert done.returncode == 0, done.stderr
    (req,) = tls_server.requests
    assert (req.method, req.path, req.body) == ("POST", "/query", b"port 53")


def test_curl_is_found_on_the_callers_path(
    tls_server: TLSServer, pki: Path, client_config: Path, tmp_path: Path
) -> None:
    """Upstream overwrote PATH with the URL path; here curl comes from PATH."""
    stub = tmp_path / "bin" / "curl"
    stub.parent.mkdir()
    stub.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    stub.chmod(0o755)
    done = run([STENOCURL, "/debug/config", "-v"], client_config, path=f"{stub.parent}:/usr/bin")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "--cert",
        f"{pki}/client_cert.pem",
        "--key",
        f"{pki}/client_key.pem",
        "--cacert",
        f"{pki}/ca_cert.pem",
        "-v",
        f"https://127.0.0.1:{tls_server.port}/debug/config",
    ]
    assert tls_server.requests == []


@pytest.mark.parametrize("argv", [[], ["debug/stats"]])
def test_usage(argv: list[str], tmp_path: Path) -> None:
    done = run([STENOCURL, *argv], tmp_path / "unused")
    assert done.returncode == 1
    assert done.stderr.startswith("usage: stenocurl /PATH [curl args...]")


def test_unreadable_config(tmp_path: Path) -> None:
    done = run([STENOCURL, "/debug/stats"], tmp_path / "missing")
    assert done.returncode == 1
    assert done.stderr == (
        f"stenocurl: {tmp_path}/missing: cannot read the config file: No such file or directory\n"
    )
