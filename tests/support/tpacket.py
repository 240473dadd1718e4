"""Writing TPACKET_V3 blocks in Python, as the kernel lays them out, for tests.

The layout is the one ``steno/native/c/block.h`` reads: a 48-byte
``tpacket_block_desc``, then per packet a 48-byte ``tpacket3_hdr`` with the
frame at ``tp_mac`` = 82 bytes in (as the kernel places it for SOCK_RAW
Ethernet), each record padded to 8 bytes.  A packet's position in the packet
file is the block's offset plus its record's offset in the block.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import attrs

BLOCK_DESC_LEN = 48
PKT_HDR_LEN = 48
TP_MAC = 82
TP_NET = 96
TPACKET_V3 = 2
TP_STATUS_USER = 1
TP_STATUS_VLAN_VALID = 0x10


@attrs.frozen(kw_only=True)
class Packet:
    frame: bytes
    sec: int = 1_700_000_000
    nsec: int = 0
    status: int = 0
    vlan_tci: int = 0
    vlan_tpid: int = 0

    @property
    def record_len(self) -> int:
        return (TP_MAC + len(self.frame) + 7) & ~7


def block(
    packets: Sequence[Packet], block_size: int, *, seq: int = 1
) -> tuple[bytes, tuple[int, ...]]:
    """One block holding ``packets``, and each packet's offset in the block."""
    buf = bytearray(block_size)
    off = BLOCK_DESC_LEN
    offsets = []
    for i, p in enumerate(packets):
        rec = p.record_len
        if off + rec > block_size:
            raise ValueError("packets do not fit in the block")
        nxt = rec if i + 1 < len(packets) else 0
        struct.pack_into(
            "<IIIIIIHHIIHH",
            buf,
            off,
            nxt,
            p.sec,
            p.nsec,
            len(p.frame),
            len(p.frame),
            p.status | TP_STATUS_USER,
            TP_MAC,
            TP_NET,
            0,
            p.vlan_tci,
            p.vlan_tpid,
            0,
        )
        buf[off + TP_MAC : off + TP_MAC + len(p.frame)] = p.frame
        offsets.append(off)
        off += rec
    first_ts = (packets[0].sec, packets[0].nsec) if packets else (0, 0)
    last_ts = (packets[-1].sec, packets[-1].nsec) if packets else (0, 0)
    struct.pack_into(
        "<IIIIIIQIIII",
        buf,
        0,
        TPACKET_V3,
        BLOCK_DESC_LEN,
        TP_STATUS_USER,
        len(packets),
        BLOCK_DESC_LEN,
        off,
        seq,
        *first_ts,
        *last_ts,
    )
    return bytes(buf), tuple(offsets)


def blocks(packets: Iterable[Packet], block_size: int) -> tuple[list[bytes], list[int]]:
    """Packs packets into as many blocks as needed; returns them and every position."""
    out: list[bytes] = []
    positions: list[int] = []
    pending: list[Packet] = []
    used = BLOCK_DESC_LEN

    def flush() -> None:
        data, offsets = block(pending, block_size, seq=len(out) + 1)
        base = len(out) * block_size
        positions.extend(base + o for o in offsets)
        out.append(data)

    for p in packets:
        if used + p.record_len > block_size and pending:
            flush()
            pending, used = [], BLOCK_DESC_LEN
        pending.append(p)
        used += p.record_len
    if pending:
        flush()
    return out, positions
