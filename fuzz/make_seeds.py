"""Seed corpora for the fuzz harnesses, written as bytes from a tiny frame builder.

Upstream Stenographer fuzzed its indexer from three captured frames
(``stenotype/afl_tests``: ``ip4_udp``, ``ip6_tcp``, ``mpls_qinq``); those are
rebuilt here from what they contain (reference §9.5), plus frames that reach
the corners of docs/index-keys.md (tag and label limits, pseudowires, IPv6
extension chains, fragments).  The builder is this module's own, kept tiny on
purpose: the project's frame builder (``steno/lab/frames.py``) was being
written in another branch when these seeds were, and a fuzz seed only needs
to be close enough to a real frame for the fuzzer to mutate from.

Harness input formats (the C harnesses decode the same):

* ``keys``: 1 flag byte (bit 0: the kernel stripped a VLAN tag), 2 bytes
  tp_vlan_tci (big-endian), then the frame.
* ``roundtrip``: records of (flag byte, tci u16 BE, frame length u16 BE,
  frame), packed into TPACKET_V3 blocks by the harness.
* ``reader``: a whole index file (the seeds are index files the builder wrote).
"""

from __future__ import annotations

import argparse
import ipaddress
import struct
from collections.abc import Sequence
from pathlib import Path

__all__ = ["frame_seeds", "upstream_seeds", "write_seeds"]


def _eth(ethertype: int) -> bytes:
    return bytes.fromhex("020000000002020000000001") + struct.pack("!H", ethertype)


def _ipv4(src: str, dst: str, proto: int, payload: bytes, *, frag: int = 0) -> bytes:
    return (
        struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(payload), 0x4D2, frag, 64, proto, 0)
        + ipaddress.IPv4Address(src).packed
        + ipaddress.IPv4Address(dst).packed
        + payload
    )


def _ipv6(src: str, dst: str, nh: int, payload: bytes) -> bytes:
    return (
        struct.pack("!IHBB", 6 << 28, len(payload), nh, 64)
        + ipaddress.IPv6Address(src).packed
        + ipaddress.IPv6Address(dst).packed
        + payload
    )


def _udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def _tcp(sport: int, dport: int, flags: int = 0x02) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 0x1000, 0, 5 << 4, flags, 64240, 0, 0)


def _mpls(label: int, bos: bool) -> bytes:
    return struct.pack("!I", (label << 12) | (int(bos) << 8) | 64)


def _dns_query(name: str) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return struct.pack("!HHHHHH", 0x3A5C, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)


def upstream_seeds() -> dict[str, bytes]:
    """The frames of upstream's three fuzz seeds, rebuilt (reference §9.5)."""
    ip4_udp = _eth(0x0800) + _ipv4(
        "172.31.112.32", "8.8.8.8", 17, _udp(42600, 53, _dns_query("xkcd.com"))
    )
    ip6_tcp = _eth(0x86DD) + _ipv6(
        "2620:0:1000:5c7e:cc39:fc4b:3705:3841", "2001:418:1401:5e::11", 6, _tcp(60764, 443)
    )
    icmp = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"abcdefgh" * 4
    mpls_qinq = (
        _eth(0x8847)
        + _mpls(19, False)
        + _mpls(16, True)
        + b"\x00\x00\x00\x00"  # pseudowire control word
        + _eth(0x8100)
        + struct.pack("!HH", 1, 0x0800)
        + _ipv4("192.168.1.1", "192.168.1.2", 1, icmp)
    )
    return {"ip4_udp": ip4_udp, "ip6_tcp": ip6_tcp, "mpls_qinq": mpls_qinq}


def frame_seeds() -> dict[str, bytes]:
    """Upstream's seeds plus frames that reach the corners of the walk."""
    seeds = upstream_seeds()
    tcp = _tcp(1234, 80)
    seeds["qinq_tags"] = (
        _eth(0x88A8)
        + struct.pack("!HH", 100, 0x8100)
        + struct.pack("!HH", 200, 0x0800)
        + _ipv4("10.0.0.1", "10.0.0.2", 6, tcp)
    )
    seeds["many_tags"] = (
        _eth(0x8100)
        + b"".join(struct.pack("!HH", i, 0x8100) for i in range(16))
        + struct.pack("!HH", 99, 0x0800)
        + _ipv4("10.0.0.1", "10.0.0.2", 6, tcp)
    )
    seeds["ipv4_later_fragment"] = _eth(0x0800) + _ipv4(
        "10.0.0.1", "10.0.0.2", 17, b"\x00\x35\x00\x35" + b"x" * 20, frag=185
    )
    ext = bytes([43, 0]) + b"\x00" * 6  # hop-by-hop -> routing
    ext += bytes([60, 0]) + b"\x00" * 6  # routing -> destination options
    ext += bytes([51, 0]) + b"\x00" * 6  # destination options -> AH
    ext += bytes([44, 1]) + b"\x00" * 10  # AH (length 1: 12 bytes) -> fragment
    ext += struct.pack("!BBHI", 17, 0, 0, 7)  # first fragment -> UDP
    seeds["ipv6_ext_chain"] = _eth(0x86DD) + _ipv6(
        "2001:db8::1", "2001:db8::2", 0, ext + _udp(1, 2, b"")
    )
    seeds["ipv6_later_fragment"] = _eth(0x86DD) + _ipv6(
        "2001:db8::1", "2001:db8::2", 44, struct.pack("!BBHI", 6, 0, 100 << 3, 9) + b"y" * 16
    )
    inner = _eth(0x86DD) + _ipv6(
        "2001:db8::a", "2001:db8::b", 132, b"\x13\x88\x13\x89" + b"\x00" * 8
    )
    seeds["mpls_pw_nested"] = (
        _eth(0x8848)
        + _mpls(1000, True)
        + b"\x00\x00\x00\x00"
        + _eth(0x8847)
        + _mpls(2000, False)
        + _mpls(3000, True)
        + b"\x00\x00\x00\x00"
        + inner
    )
    return seeds


def _keys_input(frame: bytes, *, stripped_vlan: int | None = None) -> bytes:
    flags = 1 if stripped_vlan is not None else 0
    return struct.pack("!BH", flags, stripped_vlan or 0) + frame


def _roundtrip_input(frames: Sequence[tuple[bytes, int | None]]) -> bytes:
    out = b""
    for frame, vlan in frames:
        out += struct.pack("!BHH", 1 if vlan is not None else 0, vlan or 0, len(frame)) + frame
    return out


def write_seeds(root: Path) -> dict[str, Path]:
    """Writes the seed corpus of every harness under ``root``; returns the directories."""
    frames = frame_seeds()
    dirs = {name: root / name for name in ("keys", "roundtrip", "reader")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        (dirs["keys"] / name).write_bytes(_keys_input(frame))
    (dirs["keys"] / "stripped_vlan").write_bytes(_keys_input(frames["ip4_udp"], stripped_vlan=7))
    mixed = [(f, None) for f in frames.values()] + [(frames["ip6_tcp"], 0x2005)]
    (dirs["roundtrip"] / "all_frames").write_bytes(_roundtrip_input(mixed))
    (dirs["roundtrip"] / "one_flow_both_ways").write_bytes(
        _roundtrip_input([(frames["ip4_udp"], None)] * 3)
    )
    for name, data in _index_seeds(frames).items():
        (dirs["reader"] / name).write_bytes(data)
    return dirs


def _index_seeds(frames: dict[str, bytes]) -> dict[str, bytes]:
    """Index files written by the real builder (imported late: it needs the built extension)."""
    from steno.native.index import IndexBuilder

    block_size = 1 << 16
    out = {}
    for name, chosen in (("empty", []), ("all_frames", list(frames.values()))):
        with IndexBuilder(block_size) as b:
            if chosen:
                b.add_block(_block(chosen * 20, block_size), 0)
            out[name] = b.serialize(block_size)
    return out


def _block(frames: list[bytes], block_size: int) -> bytes:
    buf = bytearray(block_size)
    off = 48
    for i, f in enumerate(frames):
        rec = (82 + len(f) + 7) & ~7
        nxt = rec if i + 1 < len(frames) else 0
        struct.pack_into("<IIIIIIHH", buf, off, nxt, 1_700_000_000, i, len(f), len(f), 1, 82, 96)
        buf[off + 82 : off + 82 + len(f)] = f
        off += rec
    struct.pack_into("<IIIIIIQ", buf, 0, 2, 48, 1, len(frames), 48, off, 1)
    return bytes(buf)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the fuzz seed corpora.")
    parser.add_argument("root", type=Path, help="directory to write <harness>/<seed> under")
    args = parser.parse_args()
    for name, d in write_seeds(args.root).items():
        print(f"{name}: {len(list(d.iterdir()))} seeds in {d}")


if __name__ == "__main__":
    main()
