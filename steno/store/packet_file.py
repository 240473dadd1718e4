"""Packet files: reading the TPACKET_V3 blocks stenotype wrote, exporting pcap.

A packet file is blocks written verbatim, block k at offset k * block_size
(``docs`` and ``reference/stenographer.md`` §3.1); the block size is not in
the file, so the reader is told (1 MiB by default).  A packet's *position* is
the file offset of its header, which is what the index stores.

What a bad file looks like, and what happens:

* the tail of a preallocated file: blocks of zeros -> the data ends there;
* a file whose size is not a multiple of the block size (a torn last write,
  or the wrong block size) -> ``PacketFileError``;
* a block that is not a TPACKET_V3 block of this size, or whose packet chain
  leaves it -> ``PacketFileError`` naming the block.

Nothing here trusts a length read from the file: blocks are checked in C
(``block.h``) before any packet is read.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import attrs

from steno.native.extract import BlockError, BlockInfo, Extractor, block_info, pcap_file_header

DEFAULT_BLOCK_SIZE = 1 << 20
_ZERO_HEAD = bytes(48)


class PacketFileError(ValueError):
    """A packet file that is torn, foreign, or read with the wrong block size."""


@attrs.frozen
class Block:
    index: int
    offset: int
    info: BlockInfo
    data: bytes


class PacketFile:
    """An open packet file (a context manager)."""

    def __init__(self, path: str | Path, *, block_size: int = DEFAULT_BLOCK_SIZE) -> None:
        self.path = Path(path)
        self.block_size = block_size
        self._f: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        size = self.path.stat().st_size
        if size % block_size:
            self._f.close()
            raise PacketFileError(
                f"{self.path}: size {size} is not a multiple of the block size {block_size}"
                " (torn file, or another block size)"
            )

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> PacketFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, index: int) -> bytes | None:
        """Block index, or None at the end of the data (end of file or zero fill)."""
        self._f.seek(index * self.block_size)
        data = self._f.read(self.block_size)
        if len(data) < self.block_size or data[:48] == _ZERO_HEAD:
            return None
        return data

    def blocks(self) -> Iterator[Block]:
        """The file's blocks in order, each checked."""
        index = 0
        while (data := self._read(index)) is not None:
            try:
                info = block_info(data)
            except BlockError as e:
                raise PacketFileError(
                    f"{self.path}: block {index} (offset {index * self.block_size}): {e}"
                ) from None
            yield Block(index, index * self.block_size, info, data)
            index += 1

    def count_packets(self) -> int:
        return sum(b.info.num_pkts for b in self.blocks())

    def export_pcap(
        self, out: BinaryIO, *, nano: bool = False, positions: array[int] | None = None
    ) -> int:
        """Writes a pcap file of every packet (or of those at positions, file
        offsets in increasing order) to out; returns how many packets."""
        ex = Extractor(self.block_size, nano=nano)
        out.write(pcap_file_header(nano=nano))
        total = 0
        if positions is None:
            for block in self.blocks():
                got = ex.block(block.data, block_pos=block.offset)
                out.write(got.data)
                total += got.packets
            return total
        if positions.typecode != "Q":
            positions = array("Q", positions)
        start = 0
        while start < len(positions):
            index = positions[start] // self.block_size
            data = self._read(index)
            if data is None:
                raise PacketFileError(f"{self.path}: position {positions[start]} is past the data")
            try:
                got = ex.block(
                    data, block_pos=index * self.block_size, positions=positions, start=start
                )
            except BlockError as e:
                raise PacketFileError(f"{self.path}: block {index}: {e}") from None
            except LookupError as e:
                raise PacketFileError(f"{self.path}: {e}") from None
            out.write(got.data)
            total += got.packets
            start += got.consumed
        return total


def export_pcap(
    packet_path: str | Path,
    out: str | Path | BinaryIO,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    nano: bool = False,
    positions: array[int] | None = None,
) -> int:
    """Exports a packet file (all packets, or those at positions) as pcap to
    out (a path or a binary file); returns the number of packets."""
    with PacketFile(packet_path, block_size=block_size) as pf:
        if isinstance(out, str | Path):
            with open(out, "wb") as f:
                return pf.export_pcap(f, nano=nano, positions=positions)
        return pf.export_pcap(out, nano=nano, positions=positions)


def count_packets(packet_path: str | Path, *, block_size: int = DEFAULT_BLOCK_SIZE) -> int:
    with PacketFile(packet_path, block_size=block_size) as pf:
        return pf.count_packets()
