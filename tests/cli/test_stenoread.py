"""stenoread as a program: real tcpdump, a real mutual-TLS server, and Debian's stenoread
against the same server as the compatibility oracle."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from steno.certs import ensure_certificates, resolve_owners
from steno.cli.stenoread import Invocation, UsageError, parse_args
from tests.conftest import write_client_config
from tests.support.tls_server import Mode, TLSServer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="certificates are made as root")

BIN = Path(sys.executable).parent
STENOREAD = str(BIN / "stenoread")
UPSTREAM_STENOREAD = "/usr/bin/stenoread"


def run(
    argv: list[str], config: Path, *, as_nobody: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STENOGRAPHER_CONFIG": str(config)}
    if as_nobody:
        return subprocess.run(
            argv,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            user=65534,
            group=65534,
            extra_groups=[],
        )
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=60)


# -- arguments (pure) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["host 1.1.1.1"], Invocation("host 1.1.1.1", ())),
        (
            ["host 1.1.1.1", "-n", "src", "host", "1.1.1.1"],
            Invocation("host 1.1.1.1", ("-n", "src", "host", "1.1.1.1")),
        ),
        (
            ["--limit-packets", "6", "--limit-bytes", "2048", "tcp", "-w", "x"],
            Invocation("tcp", ("-w", "x"), limit_packets="6", limit_bytes="2048"),
        ),
        (
            ["--limit-bytes=0x800", "tcp", "--limit-packets", "3"],
            Invocation("tcp", ("--limit-packets", "3"), limit_bytes="0x800"),
        ),
        (["--limit-packets", "1", "--limit-packets", "2", "tcp"], Invocation("tcp", (), "2")),
        (["-n", "tcp"], Invocation("-n", ("tcp",))),  # upstream: the first other word is the query
    ],
)
def test_arguments_as_upstream(argv: list[str], expected: Invocation) -> None:
    assert parse_args(argv) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--limit-packets"], "--limit-packets needs a number"),
        (["--limit-bytes", "lots", "tcp"], "--limit-bytes: not a number: 'lots'"),
        (["--limit-packets", "5"], "no query given"),
    ],
)
def test_argument_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_args(argv)


def test_no_arguments_prints_usage_and_fails(tmp_path: Path) -> None:
    done = run([STENOREAD], tmp_path / "unused")
    assert done.returncode == 1
    assert done.stderr.startswith("usage: stenoread [--limit-packets N]")
    done = run([STENOREAD, "--limit-bytes", "x", "tcp"], tmp_path / "unused")
    assert done.returncode == 1
    assert done.stderr.startswith("stenoread: --limit-bytes: not a number: 'x'\n")


# -- against the test server --------------------------------------------------------------


def test_pcap_arrives_intact(
    tls_server: TLSServer, client_config: Path, pcap_bytes: bytes, tmp_path: Path
) -> None:
    out = tmp_path / "out.pcap"
    done = run([STENOREAD, "host 198.18.0.7", "-w", str(out)], client_config)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == pcap_bytes
    assert done.stderr.splitlines()[0] == (
        f"Running stenographer query 'host 198.18.0.7', piping to 'tcpdump -w {out}'"
    )
    assert "received" not in done.stderr, "no progress when stderr is not a terminal"
    (req,) = tls_server.requests
    assert (req.method, req.path, req.body) == ("POST", "/query", b"host 198.18.0.7")
    assert "steno-limit-packets" not in req.headers


def test_limits_become_headers(tls_server: TLSServer, client_config: Path) -> None:
    done = run(
        [STENOREAD, "--limit-packets", "6", "--limit-bytes=0x800", "tcp", "-w", "/dev/null"],
        client_config,
    )
    assert done.returncode == 0, done.stderr
    (req,) = tls_server.requests
    assert req.headers["steno-limit-packets"] == "6"
    assert req.headers["steno-limit-bytes"] == "0x800"


def test_tcpdump_arguments_pass_through(tls_server: TLSServer, client_config: Path) -> None:
    done = run([STENOREAD, "udp", "-n", "udp", "src", "port", "40007"], client_config)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert "IP 198.18.0.7.40007 > 198.18.0.9.53:" in line


@pytest.mark.parametrize("mode", [Mode.PCAP, Mode.STALL])
def test_tcpdump_stopping_early_ends_quietly(
    tls_server: TLSServer, client_config: Path, mode: Mode
) -> None:
    """-c 1: tcpdump exits; stenoread stops the download at once, even from a server
    that has gone quiet (STALL would hold the connection for 30 s)."""
    tls_server.mode = mode
    started = time.monotonic()
    done = run([STENOREAD, "udp", "-n", "-c", "1"], client_config)
    assert time.monotonic() - started < 10
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert "stenoread:" not in done.stderr


def test_tcpdump_failing_gives_its_status(tls_server: TLSServer, client_config: Path) -> None:
    done = run([STENOREAD, "udp", "-n", "not a ( filter"], client_config)
    assert done.returncode == 1
    assert "tcpdump" in done.stderr
    assert "Traceback" not in done.stderr


def test_server_error_is_an_error_and_tcpdump_is_not_run(
    tls_server: TLSServer, client_config: Path, tmp_path: Path
) -> None:
    tls_server.mode = Mode.ERROR
    out = tmp_path / "out.pcap"
    done = run([STENOREAD, "bogus", "-w", str(out)], client_config)
    assert done.returncode == 1
    assert done.stderr.splitlines()[1:] == [
        "stenoread: the server answered 400 Bad Request: could not parse query"
    ]
    assert not out.exists()


@pytest.mark.parametrize("mode", [Mode.ABORT, Mode.RESET, Mode.SHORT])
def test_incomplete_answer_is_reported(
    tls_server: TLSServer, client_config: Path, pcap_bytes: bytes, tmp_path: Path, mode: Mode
) -> None:
    tls_server.mode = mode
    out = tmp_path / "out.pcap"
    done = run([STENOREAD, "udp", "-w", str(out)], client_config)
    assert done.returncode == 3
    last = done.stderr.splitlines()[-1]
    assert last.startswith("stenoread: the answer is incomplete: ")
    assert "Traceback" not in done.stderr
    got = out.read_bytes()
    assert 24 < len(got) < len(pcap_bytes)
    assert pcap_bytes.startswith(got[:24])


def test_slow_answer(
    tls_server: TLSServer, client_config: Path, pcap_bytes: bytes, tmp_path: Path
) -> None:
    tls_server.mode = Mode.SLOW
    out = tmp_path / "out.pcap"
    done = run([STENOREAD, "udp", "-w", str(out)], client_config)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == pcap_bytes


def test_progress_on_a_terminal(tls_server: TLSServer, client_config: Path) -> None:
    tls_server.mode = Mode.SLOW
    master, slave = pty.openpty()
    env = {**os.environ, "STENOGRAPHER_CONFIG": str(client_config)}
    proc = subprocess.Popen(
        [STENOREAD, "udp", "-w", "/dev/null"], env=env, stderr=slave, stdout=subprocess.DEVNULL
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            piece = os.read(master, 4096)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not piece:
            break
        seen += piece
    os.close(master)
    assert proc.wait(30) == 0
    text = seen.decode()
    assert "\rstenoread: " in text
    assert " KiB received" in text


def test_a_client_certificate_from_another_ca_is_refused(
    tls_server: TLSServer, pki: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    ensure_certificates(other, "127.0.0.1", owners=resolve_owners("root", "root"))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copyfile(pki / "ca_cert.pem", mixed / "ca_cert.pem")
    for name in ("client_cert.pem", "client_key.pem"):
        shutil.copyfile(other / name, mixed / name)
    config = write_client_config(tmp_path, host="127.0.0.1", port=tls_server.port, cert_path=mixed)
    done = run([STENOREAD, "udp", "-w", str(tmp_path / "out.pcap")], config)
    assert done.returncode == 1
    assert re.search(r"refused? our client certificate", done.stderr.splitlines()[-1])
    assert tls_server.requests == []
    assert tls_server.saw_handshake_error("CERTIFICATE_VERIFY_FAILED")
    assert not (tmp_path / "out.pcap").exists()


def test_bad_config_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text('{"Host": "sensor", "Port": 1234, "CertPath": "/c"}')
    done = run([STENOREAD, "tcp"], config)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"stenoread: {config}: Host: must be an IP address (the address to listen on; "
        'host names are not accepted): "sensor"'
    )


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory other users can reach (pytest's tmp_path is root's alone)."""
    top = Path(tempfile.mkdtemp(prefix="steno-stenoread-"))
    top.chmod(0o755)
    try:
        yield top
    finally:
        shutil.rmtree(top)


def test_unreadable_key_explains_who_and_what(shared_dir: Path) -> None:
    """As upstream's stenocurl: the modes on the way to the key, and who is asking."""
    cert_path = shared_dir / "certs"
    ensure_certificates(cert_path, "127.0.0.1", owners=resolve_owners("root", "root"))
    config = write_client_config(shared_dir, host="127.0.0.1", port=1, cert_path=cert_path)
    config.chmod(0o644)
    done = run([STENOREAD, "tcp"], config, as_nobody=True)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[1] == "You do not have permission to access Stenographer data:"
    assert lines[2] == (
        f"  lrwxrwxrwx root root {cert_path}/client_key.pem -> client_127.0.0.1_client_key.pem"
    )
    assert lines[3] == f"  -r--r----- root root {cert_path}/client_127.0.0.1_client_key.pem"
    assert lines[4] == f"  drwxr-xr-x root root {cert_path}"
    assert lines[-3].endswith(" /")
    assert lines[-2] == "Your permissions: user=nobody groups=nogroup"
    assert lines[-1] == (
        "Members of group 'root' may read client_127.0.0.1_client_key.pem: ask an "
        "administrator to add you (adduser nobody root), then log in again."
    )


def test_ipv6_server(pcap_bytes: bytes, tmp_path: Path) -> None:
    cert_path = tmp_path / "certs"
    ensure_certificates(cert_path, "::1", owners=resolve_owners("root", "root"))
    with TLSServer(cert_path, pcap=pcap_bytes, host="::1") as server:
        config = write_client_config(tmp_path, host="::1", port=server.port, cert_path=cert_path)
        out = tmp_path / "out.pcap"
        done = run([STENOREAD, "udp", "-w", str(out)], config)
        assert done.returncode == 0, done.stderr
        assert out.read_bytes() == pcap_bytes
        assert server.requests[0].headers["host"] == f"[::1]:{server.port}"


# -- compatibility with upstream, both ways ------------------------------------------------


@pytest.mark.upstream
def test_debian_stenoread_with_steno_certificates(
    tls_server: TLSServer, client_config: Path, pcap_bytes: bytes, tmp_path: Path
) -> None:
    """Upstream's client (curl + jq + tcpdump) accepts steno's layout and certificates."""
    out = tmp_path / "out.pcap"
    done = run(
        [UPSTREAM_STENOREAD, "--limit-packets", "7", "host 198.18.0.7", "-w", str(out)],
        client_config,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == pcap_bytes
    (req,) = tls_server.requests
    assert (req.method, req.path, req.body) == ("POST", "/query", b"host 198.18.0.7")
    assert req.headers["steno-limit-packets"] == "7"


@pytest.mark.upstream
def test_steno_stenoread_with_upstream_certificates(pcap_bytes: bytes, tmp_path: Path) -> None:
    """Certificates made by Debian's stenokeys (v1, no subjectAltName) keep working."""
    cert_path = tmp_path / "certs"
    config = write_client_config(tmp_path, host="127.0.0.1", port=1, cert_path=cert_path)
    made = run(["/usr/sbin/stenokeys", "root", "root"], config)
    assert made.returncode == 0, made.stderr
    with TLSServer(cert_path, pcap=pcap_bytes) as server:
        config = write_client_config(
            tmp_path, host="127.0.0.1", port=server.port, cert_path=cert_path
        )
        out = tmp_path / "out.pcap"
        done = run([STENOREAD, "udp", "-w", str(out)], config)
        assert done.returncode == 0, done.stderr
        assert out.read_bytes() == pcap_bytes
        # and the same answer through upstream's own client, for reference
        up = tmp_path / "up.pcap"
        done = run([UPSTREAM_STENOREAD, "udp", "-w", str(up)], config)
        assert done.returncode == 0, done.stderr
        assert up.read_bytes() == pcap_bytes
