"""Fixtures shared by the test suite."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from steno.certs import ensure_certificates, resolve_owners
from steno.lab.netns import Lab
from tests.support.tls_server import TLSServer, sample_pcap


@pytest.fixture(scope="session", autouse=True)
def standard_root_layout() -> None:
    """What every Debian machine has, which a stand-in root may lack.

    A root unpacked from a mktemp directory (a test chroot such as
    ``fresh_machine.sh`` builds) has ``/`` at 0700, so no unprivileged user can
    run a program, and a hand-made ``/dev`` lacks the ``/dev/stdin`` family
    (upstream's stenoread reads ``tcpdump -r /dev/stdin``).  On a real
    machine both are already so, and this changes nothing."""
    if os.geteuid() != 0:
        return
    mode = os.stat("/").st_mode
    if mode & 0o005 != 0o005:
        os.chmod("/", mode | 0o005)
    for name, target in (
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ):
        if not os.path.lexists(name):
            os.symlink(target, name)


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh network-namespace lab (gen0/cap0), torn down after the test.

    Not root, or no iproute2: LabError, so the test errors out loudly rather
    than being skipped."""
    with Lab() as the_lab:
        yield the_lab


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CertPath made once by steno's stenokeys code for Host 127.0.0.1 (owned by root).

    Read-only for the tests: a test that changes certificates makes its own."""
    cert_path = tmp_path_factory.mktemp("pki") / "certs"
    ensure_certificates(cert_path, "127.0.0.1", owners=resolve_owners("root", "root"))
    return cert_path


@pytest.fixture(scope="session")
def pcap_bytes() -> bytes:
    return sample_pcap()


@pytest.fixture
def tls_server(pki: Path, pcap_bytes: bytes) -> Iterator[TLSServer]:
    """A mutual-TLS stand-in for the daemon's query port, with pki's server pair."""
    with TLSServer(pki, pcap=pcap_bytes) as server:
        yield server


def write_client_config(directory: Path, *, host: str, port: int, cert_path: Path) -> Path:
    """A config file for clients: Debian's shape, pointing at a test server."""
    path = directory / "config"
    path.write_text(
        json.dumps(
            {
                "Threads": [
                    {
                        "PacketsDirectory": "/var/lib/stenographer/thread0/packets",
                        "IndexDirectory": "/var/lib/stenographer/thread0/index",
                    }
                ],
                "StenotypePath": "/usr/sbin/stenotype",
                "Interface": "eth0",
                "Port": port,
                "Host": host,
                "Flags": [],
                "CertPath": str(cert_path),
            }
        )
    )
    return path


@pytest.fixture
def client_config(tmp_path: Path, tls_server: TLSServer, pki: Path) -> Path:
    """$STENOGRAPHER_CONFIG for a client of tls_server."""
    return write_client_config(tmp_path, host=tls_server.host, port=tls_server.port, cert_path=pki)
