"""Hand-built TPACKET_V3 blocks, laid out as the kernel lays them out."""

from __future__ import annotations

import struct

TP_STATUS_USER = 1
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
MAC_OFF = 82  # tpacket3_hdr (48) + sockaddr_ll (20) + alignment, as for SOCK_RAW


def build_block(
    packets: list[tuple[bytes, int, int, int | None, int | None]],
    *,
    block_size: int = 1 << 16,
    seq: int = 1,
) -> bytes:
    """packets: (frame, sec, nsec, vlan_tci or None, vlan_tpid or None)."""
    blk = bytearray(block_size)
    off = 48
    offsets = []
    for frame, _, _, _, _ in packets:
        offsets.append(off)
        off += (MAC_OFF + len(frame) + 7) & ~7
    if off > block_size:
        raise ValueError("packets do not fit")
    for i, (frame, sec, nsec, tci, tpid) in enumerate(packets):
        o = offsets[i]
        nxt = offsets[i + 1] - o if i + 1 < len(packets) else 0
        status = TP_STATUS_USER
        if tci is not None:
            status |= TP_STATUS_VLAN_VALID
            if tpid is not None:
                status |= TP_STATUS_VLAN_TPID_VALID
        struct.pack_into(
            "<IIIIIIHHIIH",
            blk,
            o,
            nxt,
            sec,
            nsec,
            len(frame),
            len(frame),
            status,
            MAC_OFF,
            MAC_OFF + 14,
            0,
            tci or 0,
            tpid or 0,
        )
        blk[o + MAC_OFF : o + MAC_OFF + len(frame)] = frame
    first_ns = min(((s, n) for _, s, n, _, _ in packets), default=(0, 0))
    last_ns = max(((s, n) for _, s, n, _, _ in packets), default=(0, 0))
    struct.pack_into(
        "<IIIIIIQIIII",
        blk,
        0,
        2,
        48,
        TP_STATUS_USER,
        len(packets),
        48,
        off,
        seq,
        *first_ns,
        *last_ns,
    )
    return bytes(blk)
