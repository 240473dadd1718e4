"""Running the real ``stenotype`` in a lab namespace, and reading what it wrote.

Used by the lab tests, the demo and the benchmarks."""

from __future__ import annotations

import io
import os
from pathlib import Path

from steno.lab.logged_process import LoggedProcess
from steno.lab.netns import Lab
from steno.lab.pcap import iter_pcap
from steno.store.naming import ThreadDirs, is_hidden, parse_micros
from steno.store.packet_file import PacketFile

# Small and quick: 64 KiB blocks, a 1 MiB ring, 4 MiB files, one-second rotation.
SMALL = (
    "--blocks=16",
    "--blocksize_kb=64",
    "--aiops=4",
    "--filesize_mb=4",
    "--fileage_sec=1",
    "--blockage_sec=1",
)
BLOCK_SIZE = 64 * 1024


class Stenotype(LoggedProcess):
    """One stenotype process capturing on the lab's cap0 into ``base``."""

    def __init__(
        self, lab: Lab, base: Path, *flags: str, identity: tuple[str, ...] | None = None
    ) -> None:
        super().__init__(lab, "stenotype", base.parent / f"{base.name}.log")
        self.base = base
        self.flags = flags or SMALL
        self.identity = ("--uid=root", "--gid=root") if identity is None else identity

    def argv(self) -> list[str]:
        return self.lab.python(
            "steno.cli.stenotype",
            f"--dir={self.base}",
            "--iface=cap0",
            "-v",
            *self.identity,
            *self.flags,
        )

    def start(self, *, ready_timeout: float = 20.0) -> Stenotype:
        self.base.mkdir(parents=True, exist_ok=True)
        self.launch(self.argv(), ready="Capturing on", timeout=ready_timeout)
        return self

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit status."""
        return self.terminate(timeout)

    def dirs(self, thread: int = 0) -> ThreadDirs:
        return ThreadDirs.under(self.base, thread)


def names(path: Path) -> tuple[list[str], list[str]]:
    """(visible, hidden) file names of a directory, visible in time order."""
    entries = os.listdir(path)
    visible = sorted((n for n in entries if not is_hidden(n) and parse_micros(n)), key=int)
    hidden = sorted(n for n in entries if is_hidden(n))
    return visible, hidden


def stored_frames(dirs: ThreadDirs, *, block_size: int = BLOCK_SIZE) -> list[bytes]:
    """Every frame in the thread's sealed packet files, in file and position order,
    with the outer VLAN tag put back (as on the wire)."""
    frames: list[bytes] = []
    visible, _ = names(dirs.packets)
    for name in visible:
        with PacketFile(dirs.packet_path(name), block_size=block_size) as pf:
            buf = io.BytesIO()
            pf.export_pcap(buf)
        buf.seek(0)
        _, records = iter_pcap(buf)
        frames.extend(r.data for r in records)
    return frames


def export_all(dirs: ThreadDirs, out: Path, *, block_size: int = BLOCK_SIZE) -> int:
    """All sealed packet files of a thread as one pcap file; returns the packet count."""
    visible, _ = names(dirs.packets)
    total = 0
    with open(out, "wb") as f:
        first = True
        for name in visible:
            with PacketFile(dirs.packet_path(name), block_size=block_size) as pf:
                buf = io.BytesIO()
                total += pf.export_pcap(buf)
            data = buf.getvalue()
            f.write(data if first else data[24:])
            first = False
    return total
