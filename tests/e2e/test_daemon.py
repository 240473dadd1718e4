"""The stenographer daemon end to end: real capture in a lab namespace, real
certificates from stenokeys, real mutual TLS, queries through stenoread --
steno's and Debian's upstream one -- checked against the generator's answer key."""

from __future__ import annotations

import collections
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from steno.lab.answer_key import matches
from steno.lab.daemon_run import Stenographer, venv_tool
from steno.lab.generator import Traffic, generate
from steno.lab.netns import Lab
from steno.lab.pcap import iter_pcap
from steno.query import parse

pytestmark = pytest.mark.lab


@pytest.fixture
def daemon(lab: Lab) -> Iterator[Stenographer]:
    d = Stenographer(lab, lab.tmpdir / "steno").start()
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.stop()


def packets_of(pcap: bytes) -> list[bytes]:
    return [r.data for r in iter_pcap(io.BytesIO(pcap))[1]]


def wait_for(
    d: Stenographer, query: str, count: int, timeout: float = 20.0
) -> tuple[list[bytes], float]:
    """Polls until the query returns `count` packets; returns them and how long it took."""
    started = time.monotonic()
    got: list[bytes] = []
    while time.monotonic() - started < timeout:
        proc = d.stenoread(query, "-w", "-")
        if proc.returncode == 0:
            got = packets_of(proc.stdout)
            if len(got) >= count:
                return got, time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{query!r}: {len(got)} of {count} packets after {timeout} s\n{d.log()}")


def expected(traffic: Traffic, query: str) -> collections.Counter[bytes]:
    node = parse(query, now=datetime.now(UTC))
    return collections.Counter(
        traffic.frame(i) for i in range(len(traffic)) if matches(node, traffic.keys(i), 0)
    )


def test_capture_then_query_through_stenoread(lab: Lab, daemon: Stenographer) -> None:
    traffic = generate(seed=41, count=3000, profile="mixed")
    lab.send((traffic.data, traffic.offsets), rate=20_000)
    everything, latency = wait_for(
        daemon, "net 0.0.0.0/0 or net ::/0 or vlan 1 or mpls 0 or after 1h ago", len(traffic)
    )
    assert collections.Counter(everything) == collections.Counter(traffic.frames())
    print(f"wire to queryable: {latency:.1f} s (fileage 1 s, blockage 1 s)")
    for query in ("tcp", "udp and port 53", "net 2001:db8::/32", "ip proto 58 or icmp"):
        proc = daemon.stenoread(query, "-w", "-")
        assert proc.returncode == 0, proc.stderr.decode()
        assert collections.Counter(packets_of(proc.stdout)) == expected(traffic, query), query
    # stenoread's own tcpdump output, as an analyst sees it.
    proc = daemon.stenoread("tcp", "-nn", "-c", "3")
    assert proc.returncode == 0
    summaries = [ln for ln in proc.stdout.decode().splitlines() if not ln.startswith("\t")]
    assert len(summaries) == 3
    run_dir = next(line for line in daemon.log().splitlines() if "Starting stenotype" in line)
    assert daemon.stop() == 0, daemon.log()
    assert "Traceback" not in daemon.log()
    # The run directory (stenotype's --dir of symlinks) is gone after stopping.
    dir_arg = next(a for a in run_dir.split() if a.startswith("--dir="))[len("--dir=") :]
    assert not Path(dir_arg).exists()


def test_debians_stenoread_works_against_steno(lab: Lab, daemon: Stenographer) -> None:
    upstream = "/usr/bin/stenoread"
    assert Path(upstream).exists(), (
        "Debian's stenographer-client is not installed (dev.sh installs it)"
    )
    traffic = generate(seed=42, count=1000, profile="imix")
    lab.send((traffic.data, traffic.offsets), rate=20_000)
    ours, _ = wait_for(daemon, "tcp or udp", sum(expected(traffic, "tcp or udp").values()))
    out = daemon.base / "upstream.pcap"
    proc = daemon.stenoread("tcp or udp", "-w", str(out), tool=upstream)
    assert proc.returncode == 0, proc.stderr.decode()
    assert collections.Counter(packets_of(out.read_bytes())) == collections.Counter(ours)


def test_a_bad_query_is_an_error_not_a_pcap(daemon: Stenographer) -> None:
    proc = daemon.stenoread("port 80 junk")
    assert proc.returncode != 0
    assert b'"junk" at character 8' in proc.stderr
    proc = daemon.curl("/query", "-d", "port 80 junk", "-w", "%{http_code}")
    assert proc.stdout.endswith(b"400")


def test_a_client_without_a_certificate_is_refused(daemon: Stenographer) -> None:
    proc = daemon.curl("/debug/stats", cert=False)
    assert proc.returncode != 0
    assert proc.stdout == b""


def test_stats_config_and_metrics(daemon: Stenographer) -> None:
    stats = daemon.curl("/debug/stats").stdout.decode()
    assert "current_files\t" in stats
    config = json.loads(daemon.curl("/debug/config").stdout)
    assert config["Interface"] == "cap0"
    metrics = daemon.curl("/metrics").stdout.decode()
    assert "steno_stenotype_up 1.0" in metrics
    assert "# TYPE steno_queries_total counter" in metrics
    files = daemon.curl("/debug/t0/files").stdout.decode()
    assert files.startswith("Thread 0 (IDX:")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_a_killed_stenotype_is_restarted_and_capture_goes_on(
    lab: Lab, daemon: Stenographer
) -> None:
    assert daemon.proc is not None
    (child,) = _children(daemon.proc.pid)
    os.kill(child, 9)
    deadline = time.monotonic() + 20
    while daemon.log().count("Starting stenotype") < 2:
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.1)
    assert "Stenotype stopped" in daemon.log()
    while "] Capturing on" not in daemon.log().split("Starting stenotype")[2]:
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.1)
    traffic = generate(seed=43, count=500, profile="imix")
    lab.send((traffic.data, traffic.offsets), rate=20_000)
    got, _ = wait_for(daemon, "after 1h ago", 500)
    assert collections.Counter(traffic.frames()) <= collections.Counter(got)
    assert "steno_stenotype_restarts_total 1.0" in daemon.curl("/metrics").stdout.decode()


def test_retention_keeps_at_most_max_directory_files(lab: Lab) -> None:
    d = Stenographer(lab, lab.tmpdir / "steno", thread_extra={"MaxDirectoryFiles": 3})
    d.start()
    time.sleep(8)  # one file a second: more than three by now
    index_dir = d.base / "thread0" / "index"
    # Retention runs behind the writer; on a loaded machine it may be a
    # file or two behind at any one moment, so give it a few seconds to
    # catch up (it never will if it does not delete).
    deadline = time.monotonic() + 15
    while True:
        visible = [n for n in os.listdir(index_dir) if not n.startswith(".")]
        if 2 <= len(visible) <= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert 2 <= len(visible) <= 4, visible
    assert "deleted" in d.log()
    assert d.stop() == 0


def test_a_bad_config_stops_start_up_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        json.dumps(
            {
                "Threads": [{"PacketsDirectory": "relative/path", "IndexDirectory": "/x"}],
                "Host": "127.0.0.1",
                "Port": 1,
                "CertPath": "/c",
                "Interface": "eth0",
            }
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "steno.cli.stenographer", "-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert "Threads[0].PacketsDirectory" in first
    assert "relative/path" in first


def test_socket_activation_serves_on_the_inherited_socket(lab: Lab) -> None:
    activate = shutil.which("systemd-socket-activate")
    assert activate, "systemd-socket-activate is part of systemd"
    d = Stenographer(lab, lab.tmpdir / "steno", port=19124)
    d.make_certs()
    d.start_socket_activated()
    time.sleep(0.5)
    # Lazy: the daemon starts on the first connection, which waits for it.
    reply = d.curl("/debug/stats", "--max-time", "40")
    assert reply.returncode == 0, d.log()
    assert b"current_files" in reply.stdout
    assert "stenographer ready" in d.log()
    assert d.stop() == 0, d.log()


def test_venv_tools_exist() -> None:
    for tool in ("stenotype", "stenographer", "stenoread", "stenokeys", "stenocurl"):
        assert Path(venv_tool(tool)).exists(), tool
