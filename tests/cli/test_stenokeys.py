"""stenokeys as a program: upstream's arguments, config and messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="stenokeys gives files away: root")

STENOKEYS = str(Path(sys.executable).parent / "stenokeys")


def run(argv: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STENOGRAPHER_CONFIG": str(config)}
    return subprocess.run(
        [STENOKEYS, *argv], env=env, capture_output=True, text=True, check=False, timeout=120
    )


def write_config(tmp_path: Path, **keys: object) -> Path:
    import json

    config = tmp_path / "config"
    config.write_text(json.dumps({"Host": "127.0.0.1", "Port": 1234, **keys}))
    return config


def test_makes_then_keeps(tmp_path: Path) -> None:
    cert_path = tmp_path / "certs"
    config = write_config(tmp_path, CertPath=str(cert_path))
    done = run(["nobody", "nogroup"], config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "stenokeys: made a new CA: ca_key.pem, ca_cert.pem",
        "stenokeys: made the client key and certificate (CN 127.0.0.1_client): "
        "client_127.0.0.1_client_key.pem, client_127.0.0.1_client_cert.pem",
        "stenokeys: made the server key and certificate (CN 127.0.0.1): "
        "server_127.0.0.1_key.pem, server_127.0.0.1_cert.pem",
    ]
    assert (cert_path / "server_key.pem").stat().st_uid == 65534
    again = run(["nobody", "nogroup"], config)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "stenokeys: keeping the CA: ca_cert.pem exists",
        "stenokeys: keeping the client certificate: client_cert.pem exists",
        "stenokeys: keeping the server certificate: server_cert.pem exists",
    ]


@pytest.mark.parametrize("argv", [[], ["nobody"], ["a", "b", "c"]])
def test_usage(argv: list[str], tmp_path: Path) -> None:
    done = run(argv, tmp_path / "unused")
    assert done.returncode == 1
    assert done.stderr.startswith("usage: stenokeys <stenouser> <stenogroup>")


def test_errors_are_one_line_each(tmp_path: Path) -> None:
    config = write_config(tmp_path, CertPath=str(tmp_path / "certs"))
    done = run(["no-such-user", "nogroup"], config)
    assert (done.returncode, done.stderr) == (1, "stenokeys: no such user: 'no-such-user'\n")
    config = write_config(tmp_path)
    done = run(["nobody", "nogroup"], config)
    assert (done.returncode, done.stderr) == (
        1,
        f"stenokeys: {config}: CertPath: missing (required)\n",
    )
    assert not (tmp_path / "certs").exists()
