"""What a capturer stored: packets and bytes on disk, counted from the files.

Stenotype stores (both ours and upstream's): every file of ``<dir>/PKT0`` is
read block by block, sealed and hidden alike, and each block is checked
(``steno.native.extract.block_info``: version, lengths, the packet chain)
before its ``num_pkts`` counts.  Counting stops at the first block that is not
well formed: zero fill of a preallocated tail, or a torn last write.  Hidden
files matter: upstream does not finish its last file when it stops (see
``bench/capturers.py``), so its last file is always hidden.  Index bytes are
the sizes of every file of ``<dir>/IDX0``.

tcpdump stores one pcap file; its records are counted by walking the record
headers (no payload is parsed), and a truncated last record does not count.
"""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path

import attrs

from steno.native.extract import BlockError, block_info

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\x3c\x4d": ">",
}
_PCAP_FILE_HEADER = 24
_PCAP_RECORD_HEADER = 16


@attrs.frozen(kw_only=True)
class Stored:
    packets: int
    packet_file_bytes: int
    packet_files: int
    hidden_packet_files: int
    index_bytes: int
    index_files: int
    bad_blocks: int
    """Files whose data ended in a block that failed the check (not zero fill)."""

    def as_dict(self) -> dict[str, int]:
        return attrs.asdict(self)


def _regular_files(path: Path) -> list[Path]:
    try:
        names = sorted(os.listdir(path))
    except FileNotFoundError:
        return []
    return [path / n for n in names if (path / n).is_file()]


def count_block_file(path: Path, block_size: int) -> tuple[int, bool]:
    """(packets in the file's well-formed blocks, True if they ended in a bad block)."""
    packets = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            block = f.read(block_size)
            if not block:
                return packets, False
            try:
                packets += block_info(block).num_pkts
            except BlockError:
                return packets, any(block[:48])  # zero fill is the normal end


def blockfile_store(base: Path, *, block_size: int, thread: int = 0) -> Stored:
    """What one stenotype thread stored under ``base``."""
    packets = file_bytes = hidden = bad = 0
    pkt_files = _regular_files(base / f"PKT{thread}")
    for path in pkt_files:
        n, broken = count_block_file(path, block_size)
        packets += n
        file_bytes += path.stat().st_size
        hidden += path.name.startswith(".")
        bad += broken
    idx_files = _regular_files(base / f"IDX{thread}")
    return Stored(
        packets=packets,
        packet_file_bytes=file_bytes,
        packet_files=len(pkt_files),
        hidden_packet_files=hidden,
        index_bytes=sum(p.stat().st_size for p in idx_files),
        index_files=len(idx_files),
        bad_blocks=bad,
    )


def count_pcap_records(path: Path, chunk: int = 1 << 22) -> int:
    """Complete records in a pcap file (classic format, either byte order)."""
    with open(path, "rb") as f:
        head = f.read(_PCAP_FILE_HEADER)
        if len(head) < _PCAP_FILE_HEADER:
            return 0
        order = _PCAP_MAGICS.get(head[:4])
        if order is None:
            raise ValueError(f"{path}: not a classic pcap file")
        caplen_of = struct.Struct(order + "I").unpack_from
        records = 0
        buf = b""
        pos = 0
        while True:
            more = f.read(chunk)
            buf = buf[pos:] + more
            pos = 0
            # Walk every record whose header and data are wholly in buf.
            end = len(buf)
            while pos + _PCAP_RECORD_HEADER <= end:
                caplen = caplen_of(buf, pos + 8)[0]
                nxt = pos + _PCAP_RECORD_HEADER + caplen
                if nxt > end:
                    break
                records += 1
                pos = nxt
            if not more:
                return records


def pcap_store(path: Path) -> Stored:
    """What tcpdump stored in one pcap file (it has no index)."""
    exists = path.is_file()
    return Stored(
        packets=count_pcap_records(path) if exists else 0,
        packet_file_bytes=path.stat().st_size if exists else 0,
        packet_files=int(exists),
        hidden_packet_files=0,
        index_bytes=0,
        index_files=0,
        bad_blocks=0,
    )


def stored_bytes(paths: list[Path]) -> int:
    """Total size of the files under paths (directories listed one level deep);
    the benchmark watches it to see when a capturer has caught up."""
    total = 0
    for p in paths:
        for f in _regular_files(p) if p.is_dir() else [p]:
            # A file renamed as it is sealed is seen under its new name next time.
            with contextlib.suppress(FileNotFoundError):
                total += f.stat().st_size
    return total
