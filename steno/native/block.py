"""Checking TPACKET_V3 blocks read back from disk (``c/block.h``)."""

from __future__ import annotations

import attrs

from steno.native._steno import ffi, lib


@attrs.frozen
class BlockInfo:
    num_pkts: int
    blk_len: int
    seq_num: int
    first_ns: int
    last_ns: int


def check_block(block: bytes | bytearray | memoryview, block_size: int) -> BlockInfo | None:
    """The block's summary if it is a complete, well-formed TPACKET_V3 block, else None.

    None covers zero fill, torn writes and foreign data alike: everything a
    reader must not walk.
    """
    if len(block) < block_size:
        return None
    info = ffi.new("struct steno_block_info *")
    if lib.steno_block_check(ffi.from_buffer(block), block_size, info) < 0:
        return None
    return BlockInfo(info.num_pkts, info.blk_len, info.seq_num, info.first_ns, info.last_ns)
