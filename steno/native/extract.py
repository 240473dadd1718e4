"""Typed wrapper of ``c/extract.h``: pcap records out of packet-file blocks.

One call per block (1 MiB by default): Python moves blocks and position
lists, C walks the packets.  See ``steno.store.packet_file`` for whole files.
"""

from __future__ import annotations

import errno
import os
from array import array

import attrs

from steno.native._steno import ffi, lib

PCAP_FILE_HEADER_LEN: int = lib.STENO_PCAP_FILE_HEADER_LEN
DEFAULT_SNAPLEN = 65536
LINKTYPE_ETHERNET = 1


class BlockError(ValueError):
    """A block that is not a well-formed TPACKET_V3 block of this size."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code  # errno.EINVAL: not a block at all; errno.EBADMSG: bad chain


@attrs.frozen
class BlockInfo:
    num_pkts: int
    blk_len: int
    seq_num: int
    first_ns: int
    last_ns: int


@attrs.frozen
class Extracted:
    data: bytes  # pcap records, back to back
    packets: int
    vlan_restored: int
    consumed: int  # positions used from the list given


def pcap_file_header(
    *, nano: bool = False, snaplen: int = DEFAULT_SNAPLEN, linktype: int = LINKTYPE_ETHERNET
) -> bytes:
    out = ffi.new("uint8_t[24]")
    lib.steno_pcap_file_header(out, lib.STENO_PCAP_NANO if nano else 0, snaplen, linktype)
    return bytes(ffi.buffer(out, 24))


def _block_error(rc: int) -> BlockError:
    what = "not a TPACKET_V3 block" if rc == -errno.EINVAL else "inconsistent packet chain"
    return BlockError(-rc, what)


def block_info(block: bytes | bytearray | memoryview) -> BlockInfo:
    """Checks a block (its whole length is the block size); raises BlockError."""
    info = ffi.new("struct steno_extract_block_info *")
    with ffi.from_buffer("uint8_t[]", block) as cblock:
        rc = lib.steno_extract_block_info(cblock, len(block), info)
    if rc < 0:
        raise _block_error(rc)
    return BlockInfo(info.num_pkts, info.blk_len, info.seq_num, info.first_ns, info.last_ns)


class Extractor:
    """Turns blocks into pcap records; holds one output buffer of block size."""

    def __init__(
        self, block_size: int, *, nano: bool = False, snaplen: int = DEFAULT_SNAPLEN
    ) -> None:
        if block_size < 48:
            raise ValueError("block_size is too small")
        self.block_size = block_size
        self.flags = lib.STENO_PCAP_NANO if nano else 0
        self.snaplen = snaplen
        self._out = ffi.new("uint8_t[]", block_size)

    def block(
        self,
        block: bytes | bytearray | memoryview,
        *,
        block_pos: int = 0,
        positions: array[int] | None = None,
        start: int = 0,
    ) -> Extracted:
        """Records of the packets of block (at file offset block_pos): all, or
        those at positions[start:] inside it (file offsets, increasing).
        Raises BlockError for a bad block, LookupError for a position that is
        not a packet."""
        if len(block) != self.block_size:
            raise ValueError(f"a block is {self.block_size} bytes, got {len(block)}")
        res = ffi.new("struct steno_extract_result *")
        with ffi.from_buffer("uint8_t[]", block) as cblock:
            if positions is None:
                rc = lib.steno_extract_block(
                    cblock,
                    self.block_size,
                    block_pos,
                    ffi.NULL,
                    0,
                    self.flags,
                    self.snaplen,
                    self._out,
                    self.block_size,
                    res,
                )
            else:
                if positions.typecode != "Q":
                    raise TypeError("positions must be an array('Q')")
                with ffi.from_buffer("uint64_t[]", positions) as cpos:
                    rc = lib.steno_extract_block(
                        cblock,
                        self.block_size,
                        block_pos,
                        cpos + start,
                        len(positions) - start,
                        self.flags,
                        self.snaplen,
                        self._out,
                        self.block_size,
                        res,
                    )
        if rc == -errno.ENOENT:
            raise LookupError(f"a position in the block at {block_pos} is not a packet")
        if rc == -errno.ERANGE:
            raise ValueError("positions must increase and lie at or after the block")
        if rc in (-errno.EINVAL, -errno.EBADMSG):
            raise _block_error(rc)
        if rc < 0:
            raise OSError(-rc, os.strerror(-rc))
        return Extracted(
            data=bytes(ffi.buffer(self._out, res.out_len)),
            packets=res.packets,
            vlan_restored=res.vlan_restored,
            consumed=res.consumed,
        )
