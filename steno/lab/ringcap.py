"""``python -m steno.lab.ringcap``: a minimal TPACKET_V3 capture into a packet file.

The lab's own capture, independent of stenotype: it opens an AF_PACKET ring
on an interface, and writes every block the kernel retires to a file,
verbatim, exactly as a packet file is laid out (block k at k * block size).
Tests use it to get real blocks — with the kernel's stripped VLAN tags in
``tp_vlan_tci`` — for export and for comparing with what was sent.

Python touches blocks, not packets: per block it reads the status word, writes
the block, hands it back.  (x86 keeps stores in order, so reading the status
before the contents, as here, is safe where the lab runs; a C reader needs
acquire/release, as ``ring.c`` does.)

Protocol with the parent: prints ``ready`` once the ring is bound, then
captures until --count packets or --max-seconds, whichever first (SIGTERM also
stops it), and prints the statistics as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import mmap
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
TPACKET_V3 = 2
ETH_P_ALL = 0x0003
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1


def capture(
    iface: str, out_path: str, *, count: int, max_seconds: float, block_size: int, blocks: int
) -> dict[str, int]:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    try:
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        # tpacket_req3: block size, block count, frame size, frame count,
        # retire timeout (ms), private size, feature request.
        frame_size = 2048
        req = struct.pack(
            "IIIIIII", block_size, blocks, frame_size, block_size // frame_size * blocks, 10, 0, 0
        )
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
        ring = mmap.mmap(
            sock.fileno(), block_size * blocks, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
        )
        sock.bind((iface, ETH_P_ALL))
        ifindex = socket.if_nametoindex(iface)
        sock.setsockopt(
            SOL_PACKET,
            PACKET_ADD_MEMBERSHIP,
            struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b""),
        )
        print("ready", flush=True)
        packets = written = 0
        deadline = time.monotonic() + max_seconds
        k = 0
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLERR)
        with open(out_path, "wb") as out:
            while packets < count and not stop and time.monotonic() < deadline:
                base = k * block_size
                (status,) = struct.unpack_from("I", ring, base + 8)
                if not status & TP_STATUS_USER:
                    poller.poll(50)
                    continue
                (num,) = struct.unpack_from("I", ring, base + 12)
                out.write(ring[base : base + block_size])
                written += 1
                packets += num
                struct.pack_into("I", ring, base + 8, TP_STATUS_KERNEL)
                k = (k + 1) % blocks
        stats = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
        received, drops, freezes = struct.unpack("III", stats)
        ring.close()
        return {
            "packets": packets,
            "blocks": written,
            "kernel_packets": received,
            "drops": drops,
            "freezes": freezes,
        }
    finally:
        sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m steno.lab.ringcap", description=__doc__.splitlines()[0]
    )
    p.add_argument("--iface", required=True)
    p.add_argument("--out", required=True, help="packet file to write")
    p.add_argument("--count", type=int, required=True, help="stop after this many packets")
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--block-size", type=int, default=1 << 20)
    p.add_argument("--blocks", type=int, default=8)
    a = p.parse_args(argv)
    stats = capture(
        a.iface,
        a.out,
        count=a.count,
        max_seconds=a.max_seconds,
        block_size=a.block_size,
        blocks=a.blocks,
    )
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
