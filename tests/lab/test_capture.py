"""Real traffic through the lab: every generated frame arrives intact, is in
the packet file with identical bytes, and exports to the wire's bytes."""

from __future__ import annotations

import collections
import json
import subprocess
from pathlib import Path

import pytest

from steno.lab.generator import Traffic, generate
from steno.lab.netns import Lab
from steno.lab.pcap import read_pcap
from steno.store.packet_file import PacketFile, export_pcap
from tests.native.blocks import TP_STATUS_VLAN_VALID

pytestmark = pytest.mark.lab


def _capture(lab: Lab, traffic: Traffic, *, tcpdump: bool) -> tuple[Path, Path | None]:
    packets = lab.tmpdir / "1700000000000000"
    ring = lab.popen(
        lab.python(
            "steno.lab.ringcap",
            "--iface",
            "cap0",
            "--out",
            str(packets),
            "--count",
            str(len(traffic)),
            "--max-seconds",
            "30",
            "--blocks",
            "16",
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert lab.read_line(ring.stdout, 15).strip() == "ready"
    dump_path = None
    dump = None
    if tcpdump:
        dump_path = lab.tmpdir / "tcpdump.pcap"
        dump = lab.popen(
            [
                "tcpdump",
                "-i",
                "cap0",
                "-w",
                str(dump_path),
                "-c",
                str(len(traffic)),
                "-U",
                "-B",
                "16384",
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        assert "listening" in lab.read_line(dump.stderr, 15)
    result = lab.send((traffic.data, traffic.offsets), rate=100_000)
    assert result.sent == len(traffic)
    assert result.errors == 0
    assert lab.wait(ring, 40) == 0
    assert ring.stdout is not None
    stats = json.loads(ring.stdout.read())
    assert stats["drops"] == 0
    assert stats["packets"] == len(traffic)
    if dump is not None:
        assert lab.wait(dump, 40) == 0
    return packets, dump_path


def test_generated_frames_arrive_intact(lab: Lab) -> None:
    traffic = generate(17, 4000, "mixed")
    tagged = sum(1 for i in range(len(traffic)) if traffic.truth(i).outer_tag)
    assert tagged > 400
    assert 9000 in {len(x) for x in traffic.frames()}
    packets, dump = _capture(lab, traffic, tcpdump=True)

    # What the ring saw: the frame without its outer tag, the tag beside it.
    expected: collections.Counter[tuple[bytes, tuple[int, int] | None]] = collections.Counter()
    for i in range(len(traffic)):
        frame, tag = traffic.captured(i)
        expected[(frame, None if tag is None else (tag.tci, tag.tpid))] += 1
    seen: collections.Counter[tuple[bytes, tuple[int, int] | None]] = collections.Counter()
    with PacketFile(packets) as pf:
        for block in pf.blocks():
            seen.update(_ring_packets(block.data))
    assert seen == expected

    # Exported: the outer tag back in place, so exactly the wire frames.
    out = lab.tmpdir / "export.pcap"
    assert export_pcap(packets, out) == len(traffic)
    _, recs = read_pcap(out)
    assert collections.Counter(r.data for r in recs) == collections.Counter(traffic.frames())
    assert all(r.orig_len == len(r.data) for r in recs)

    # tcpdump, not ours, agrees on the bytes.
    assert dump is not None
    _, dumped = read_pcap(dump)
    assert collections.Counter(r.data for r in dumped) == collections.Counter(traffic.frames())


def _ring_packets(block: bytes) -> list[tuple[bytes, tuple[int, int] | None]]:
    """Frames and stripped tags of a block, read here independently of C."""
    num = int.from_bytes(block[12:16], "little")
    off = int.from_bytes(block[16:20], "little")
    out = []
    for _ in range(num):
        h = block[off : off + 48]
        nxt = int.from_bytes(h[0:4], "little")
        snap = int.from_bytes(h[12:16], "little")
        status = int.from_bytes(h[20:24], "little")
        mac = int.from_bytes(h[24:26], "little")
        tci = int.from_bytes(h[32:36], "little")
        tpid = int.from_bytes(h[36:38], "little")
        tag = (tci, tpid) if status & TP_STATUS_VLAN_VALID else None
        out.append((block[off + mac : off + mac + snap], tag))
        off += nxt
    return out


def test_hostile_frames_arrive_intact(lab: Lab) -> None:
    traffic = generate(23, 3000, "hostile")
    packets, _ = _capture(lab, traffic, tcpdump=False)
    out = lab.tmpdir / "export.pcap"
    assert export_pcap(packets, out) == len(traffic)
    _, recs = read_pcap(out)
    assert collections.Counter(r.data for r in recs) == collections.Counter(traffic.frames())
