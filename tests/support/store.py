"""A store on disk without capture: packet files of TPACKET_V3 blocks built in
Python (``tests/support/tpacket.py``) and indexed by the real index builder,
laid out as stenotype does (``PKT<n>/``, ``IDX<n>/``, names in microseconds)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from steno.native.index import IndexBuilder
from steno.store.naming import ThreadDirs
from tests.support.tpacket import Packet, blocks


def write_file(dirs: ThreadDirs, name: str, packets: Sequence[Packet], block_size: int) -> None:
    dirs.packets.mkdir(parents=True, exist_ok=True)
    dirs.index.mkdir(parents=True, exist_ok=True)
    data, _ = blocks(packets, block_size)
    with IndexBuilder(block_size) as builder:
        for i, block in enumerate(data):
            builder.add_block(block, i * block_size)
        size = len(data) * block_size
        index = builder.serialize(size)
    dirs.packet_path(name).write_bytes(b"".join(data))
    dirs.index_path(name).write_bytes(index)


def make_store(
    base: Path,
    frames: Sequence[bytes],
    *,
    files: int = 4,
    threads: int = 1,
    block_size: int = 1 << 16,
    start_ns: int = 1_700_000_000 * 10**9,
    step_ns: int = 1_000_000,
) -> list[ThreadDirs]:
    """Spreads frames over `threads` x `files` sealed files, packet i at
    start_ns + i * step_ns, round-robin over threads.  Returns the thread dirs."""
    all_dirs = [ThreadDirs.under(base, t) for t in range(threads)]
    per_thread: list[list[Packet]] = [[] for _ in range(threads)]
    for i, frame in enumerate(frames):
        t = start_ns + i * step_ns
        per_thread[i % threads].append(Packet(frame=frame, sec=t // 10**9, nsec=t % 10**9))
    for dirs, packets in zip(all_dirs, per_thread, strict=True):
        chunk = max(1, -(-len(packets) // files))
        for f in range(files):
            part = packets[f * chunk : (f + 1) * chunk]
            if not part:
                continue
            name = str(part[0].sec * 1_000_000 + part[0].nsec // 1000)
            write_file(dirs, name, part, block_size)
    return all_dirs
