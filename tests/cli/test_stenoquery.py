"""stenoquery: the pcap on stdout (never a terminal), progress only on a terminal."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from steno.lab.generator import generate
from steno.lab.pcap import iter_pcap
from tests.support.store import make_store


def _store(tmp_path: Path) -> Path:
    traffic = generate(seed=71, count=3000, profile="imix")
    make_store(tmp_path / "store", list(traffic.frames()), files=3)
    return tmp_path / "store"


def test_in_a_pipe_only_the_pcap_comes_out(tmp_path: Path) -> None:
    store = _store(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "steno.cli.stenoquery", "--dir", str(store), "tcp or udp"],
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stderr == b""
    assert len(list(iter_pcap(io.BytesIO(proc.stdout))[1])) > 0


def test_on_a_terminal_progress_goes_to_stderr(tmp_path: Path) -> None:
    store = _store(tmp_path)
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "steno.cli.stenoquery",
                "--dir",
                str(store),
                "-w",
                str(tmp_path / "o.pcap"),
                "tcp or udp",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=slave,
            check=False,
            timeout=60,
        )
        os.close(slave)
        shown = b""
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            shown += data
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert b"packets" in shown and b"files left" in shown


def test_refuses_to_write_pcap_to_a_terminal(tmp_path: Path) -> None:
    store = _store(tmp_path)
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "steno.cli.stenoquery", "--dir", str(store), "tcp"],
            stdout=slave,
            stderr=subprocess.PIPE,
            check=False,
            timeout=60,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2
    assert b"refusing to write pcap to a terminal" in proc.stderr
