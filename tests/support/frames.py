"""A small frame builder for tests: Ethernet, tags, MPLS, IPv4/IPv6 and transports.

Each function returns the bytes of one header (plus payload where it takes
one); tests glue them together, so a test reads like the frame it builds:
``ethernet(0x8100) + vlan(10, 0x0800) + ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2))``.
Fields that matter to the index are parameters; the rest are fixed plausible
values (checksums are left zero: nothing here verifies them).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806
ETH_8021Q = 0x8100
ETH_8021AD = 0x88A8
ETH_MPLS = 0x8847
ETH_MPLS_MC = 0x8848

DST_MAC = bytes.fromhex("020000000002")
SRC_MAC = bytes.fromhex("020000000001")


def ethernet(ethertype: int, *, dst: bytes = DST_MAC, src: bytes = SRC_MAC) -> bytes:
    """The 14-byte Ethernet header; the payload follows."""
    return dst + src + struct.pack("!H", ethertype)


def vlan(vid: int, next_type: int, *, pcp: int = 0) -> bytes:
    """An 802.1Q/802.1ad tag body (TCI and next EtherType); its TPID is the previous type."""
    return struct.pack("!HH", (pcp << 13) | (vid & 0x0FFF), next_type)


def mpls(labels: Sequence[int], *, ttl: int = 64) -> bytes:
    """A label stack; the last entry has the bottom-of-stack bit."""
    out = b""
    for i, label in enumerate(labels):
        bos = 1 if i == len(labels) - 1 else 0
        out += struct.pack("!I", (label << 12) | (bos << 8) | ttl)
    return out


def pw_control_word() -> bytes:
    return b"\x00\x00\x00\x00"


def ipv4(
    src: str,
    dst: str,
    proto: int,
    payload: bytes = b"",
    *,
    ihl: int = 5,
    frag_offset: int = 0,
    more_fragments: bool = False,
    version: int = 4,
) -> bytes:
    options = b"\x01" * (max(ihl, 5) * 4 - 20)  # NOPs
    flags_frag = (0x2000 if more_fragments else 0) | (frag_offset & 0x1FFF)
    total = max(ihl, 5) * 4 + len(payload)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        (version << 4) | (ihl & 0x0F),
        0,
        total & 0xFFFF,
        0x1234,
        flags_frag,
        64,
        proto,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return header + options + payload


def ipv6(src: str, dst: str, next_header: int, payload: bytes = b"", *, version: int = 6) -> bytes:
    header = struct.pack(
        "!IHBB16s16s",
        version << 28,
        len(payload) & 0xFFFF,
        next_header,
        64,
        ipaddress.IPv6Address(src).packed,
        ipaddress.IPv6Address(dst).packed,
    )
    return header + payload


def ext_header(next_header: int, units: int = 0) -> bytes:
    """Hop-by-hop / routing / destination options / mobility: (units + 1) * 8 bytes."""
    return bytes([next_header, units]) + b"\x00" * ((units + 1) * 8 - 2)


def auth_header(next_header: int, words: int = 4) -> bytes:
    """IPv6 AH: length field ``words``, (words + 2) * 4 bytes."""
    return bytes([next_header, words]) + b"\x00" * ((words + 2) * 4 - 2)


def fragment6(next_header: int, offset: int = 0, *, more: bool = False) -> bytes:
    """The 8-byte IPv6 fragment header; offset in 8-byte units."""
    return struct.pack("!BBHI", next_header, 0, (offset << 3) | int(more), 0xABCDEF)


def tcp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ports_only(sport: int, dport: int, rest: bytes = b"\x00" * 8) -> bytes:
    """The first 4 bytes of DCCP/SCTP/UDP-Lite (ports) and some filler."""
    return struct.pack("!HH", sport, dport) + rest


def icmp_echo(payload: bytes = b"ping") -> bytes:
    return struct.pack("!BBHHH", 8, 0, 0, 1, 1) + payload
