"""The LevelDB library (Debian's libleveldb, the library upstream stenotype
links) as a test oracle: ``leveldb_oracle.cc`` compiled once per session."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

SOURCE = Path(__file__).with_name("leveldb_oracle.cc")


class LevelDB:
    def __init__(self, exe: Path) -> None:
        self.exe = exe

    @classmethod
    def build(cls, workdir: Path) -> LevelDB:
        """Compiles the oracle; a missing compiler or library is an error, not
        a skip (dev.sh installs g++ and libleveldb-dev)."""
        cxx = shutil.which("g++")
        if cxx is None:
            raise RuntimeError("the LevelDB oracle needs g++ (apt-get install g++)")
        exe = workdir / "leveldb_oracle"
        proc = subprocess.run(
            [cxx, "-O1", "-o", str(exe), str(SOURCE), "-lleveldb"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                "building the LevelDB oracle failed (apt-get install libleveldb-dev):\n"
                + proc.stderr
            )
        return cls(exe)

    def dump(self, table: Path) -> list[tuple[bytes, bytes]]:
        out = subprocess.run(
            [str(self.exe), "dump", str(table)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        items = []
        for line in out.splitlines():
            k, v = line.split(" ")
            items.append((bytes.fromhex(k), bytes.fromhex(v)))
        return items

    def dump_fails(self, table: Path) -> bool:
        proc = subprocess.run(
            [str(self.exe), "dump", str(table)], capture_output=True, check=False, timeout=60
        )
        return proc.returncode != 0

    def build_table(self, table: Path, items: Iterable[tuple[bytes, bytes]]) -> bytes:
        text = "".join(f"{k.hex()} {v.hex()}\n" for k, v in items)
        subprocess.run(
            [str(self.exe), "build", str(table)],
            input=text,
            text=True,
            capture_output=True,
            check=True,
            timeout=60,
        )
        return table.read_bytes()
