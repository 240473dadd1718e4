"""Running Debian's upstream ``stenotype`` (1.0.1) in a lab, and reading its store.

Upstream quirks this works around (``docs/upstream-compat.md``):

* it writes 1 MiB blocks, and its reader assumes 1 MiB;
* it never creates directories: ``PKT0/`` and ``IDX0/`` must exist;
* on SIGTERM it often aborts ("WATCHDOG FAILURE", SIGABRT) and leaves the file
  it had open hidden (``.<micros>``), so tests wait until every packet sent is
  in a *sealed* file, with its index, before they stop it.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

from steno.lab.logged_process import LoggedProcess
from steno.lab.netns import Lab
from steno.store.naming import ThreadDirs, is_hidden, parse_micros
from steno.store.packet_file import PacketFile

STENOTYPE = "/usr/sbin/stenotype"
BLOCK_SIZE = 1 << 20
FLAGS = (
    "--blocks=16",
    "--aiops=4",
    "--filesize_mb=4",
    "--fileage_sec=2",
    "--blockage_sec=1",
    "--uid=root",
    "--gid=root",
    "-v",
)
TP_STATUS_VLAN_VALID = 0x10


@attrs.frozen
class StoredPacket:
    """One packet of a packet file, as the ring stored it."""

    name: str  # the packet file
    position: int  # file offset of its tpacket3_hdr: what the index stores
    frame: bytes  # the captured bytes (outer VLAN tag removed by the kernel)
    wire_len: int
    stripped_tci: int | None  # the kernel's tp_vlan_tci when it removed a tag


class UpstreamStenotype(LoggedProcess):
    """Debian's stenotype capturing on the lab's cap0 into base/PKT0, base/IDX0."""

    def __init__(self, lab: Lab, base: Path, *flags: str) -> None:
        super().__init__(lab, "stenotype", base.parent / f"{base.name}.upstream.log")
        self.base = base
        self.flags = flags or FLAGS
        self.dirs = ThreadDirs.under(base, 0)

    def start(self, *, ready_timeout: float = 20.0) -> UpstreamStenotype:
        self.dirs.packets.mkdir(parents=True, exist_ok=True)
        self.dirs.index.mkdir(parents=True, exist_ok=True)
        self.launch(
            [STENOTYPE, f"--dir={self.base}", "--iface=cap0", *self.flags],
            ready="starting to process packets",
            timeout=ready_timeout,
        )
        return self

    def wait_sealed(self, packets: int, timeout: float = 30.0) -> list[str]:
        """Waits until sealed packet files with sealed indexes hold `packets`
        packets; returns their names (time order)."""
        deadline = time.monotonic() + timeout
        while True:
            names = sealed_names(self.dirs)
            have = sum(count_packets(self.dirs, n) for n in names)
            if have >= packets:
                return names
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"stenotype died ({self.proc.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {have} of {packets} packets sealed after {timeout} s:\n{self.log()}"
                )
            time.sleep(0.2)

    def stop(self) -> int | None:
        """SIGTERM (upstream may abort on it: the exit status is reported, not
        judged); SIGKILL if it lingers."""
        return self.stop_within(10)


def sealed_names(dirs: ThreadDirs) -> list[str]:
    """Names with both a visible packet file and a visible index, in time order."""
    pkt = {n for n in os.listdir(dirs.packets) if not is_hidden(n) and parse_micros(n)}
    idx = {n for n in os.listdir(dirs.index) if not is_hidden(n) and parse_micros(n)}
    return sorted(pkt & idx, key=int)


def count_packets(dirs: ThreadDirs, name: str) -> int:
    with PacketFile(dirs.packet_path(name), block_size=BLOCK_SIZE) as pf:
        return pf.count_packets()


_HDR = struct.Struct("<IIIIIIHHIIH")  # tpacket3_hdr up to tp_vlan_tpid


def stored_packets(path: Path, *, block_size: int = BLOCK_SIZE) -> Iterator[StoredPacket]:
    """Every packet of a packet file with its position, through PacketFile
    (which checks each block) and the documented tpacket3_hdr layout."""
    with PacketFile(path, block_size=block_size) as pf:
        for block in pf.blocks():
            data = block.data
            p = struct.unpack_from("<I", data, 16)[0]  # offset_to_first_pkt
            for i in range(block.info.num_pkts):
                nxt, _, _, snaplen, wire_len, status, mac, _, _, tci, _ = _HDR.unpack_from(data, p)
                yield StoredPacket(
                    name=path.name,
                    position=block.offset + p,
                    frame=bytes(data[p + mac : p + mac + snaplen]),
                    wire_len=wire_len,
                    stripped_tci=tci if status & TP_STATUS_VLAN_VALID else None,
                )
                if i + 1 < block.info.num_pkts:
                    p += nxt
