"""docs/index-keys.md written as plain Python: the test oracle for keys.c.

A deliberately naive transcription of the page, step by step, sharing no code
with the C walk, so that the two can be compared on any frame (hand-built,
truncated, random).  It is slow and that is fine.
"""

from __future__ import annotations

import ipaddress

from steno.native.index import FrameKeys

TAG_TYPES = {0x8100, 0x88A8, 0x9100, 0x9200, 0x9300}
MPLS_TYPES = {0x8847, 0x8848}
PORT_PROTOS = {6, 17, 33, 132, 136}
IPV6_EXT = {0, 43, 60, 135}
AH = 51
FRAGMENT = 44
TP_STATUS_VLAN_VALID = 0x10


class _Keys:
    def __init__(self) -> None:
        self.proto: int | None = None
        self.ports: set[int] = set()
        self.vlans: set[int] = set()
        self.ipv4: set[int] = set()
        self.mpls: set[int] = set()
        self.ipv6: set[bytes] = set()

    def frozen(self) -> FrameKeys:
        return FrameKeys(
            proto=() if self.proto is None else (self.proto,),
            ports=tuple(sorted(self.ports)),
            vlans=tuple(sorted(self.vlans)),
            ipv4=tuple(ipaddress.IPv4Address(a) for a in sorted(self.ipv4)),
            mpls=tuple(sorted(self.mpls)),
            ipv6=tuple(ipaddress.IPv6Address(a) for a in sorted(self.ipv6)),
        )


def expected_keys(frame: bytes, *, tp_status: int = 0, vlan_tci: int = 0) -> FrameKeys:
    k = _Keys()
    if tp_status & TP_STATUS_VLAN_VALID:
        k.vlans.add(vlan_tci & 0x0FFF)
    _walk(frame, k)
    return k.frozen()


def _u16(b: bytes, at: int) -> int:
    return int.from_bytes(b[at : at + 2], "big")


def _walk(f: bytes, k: _Keys) -> None:
    at = 0
    tags = labels = inner = 0
    while True:  # one iteration per Ethernet frame
        if len(f) < at + 14:
            return
        etype = _u16(f, at + 12)
        at += 14
        while etype in TAG_TYPES:
            if tags == 16 or len(f) < at + 4:
                return
            tags += 1
            k.vlans.add(_u16(f, at) & 0x0FFF)
            etype = _u16(f, at + 2)
            at += 4
        if etype in MPLS_TYPES:
            while True:
                if labels == 16 or len(f) < at + 4:
                    return
                labels += 1
                entry = int.from_bytes(f[at : at + 4], "big")
                k.mpls.add(entry >> 12)
                at += 4
                if entry & 0x100:
                    break
            if len(f) < at + 1:
                return
            nibble = f[at] >> 4
            if nibble == 4:
                _ipv4(f, at, k)
                return
            if nibble == 6:
                _ipv6(f, at, k)
                return
            if nibble == 0:
                if inner == 4:
                    return
                inner += 1
                at += 4
                continue
            return
        if etype == 0x0800:
            _ipv4(f, at, k)
        elif etype == 0x86DD:
            _ipv6(f, at, k)
        return


def _ports(f: bytes, at: int, proto: int, k: _Keys) -> None:
    if proto in PORT_PROTOS and len(f) >= at + 4:
        k.ports.add(_u16(f, at))
        k.ports.add(_u16(f, at + 2))


def _ipv4(f: bytes, at: int, k: _Keys) -> None:
    if len(f) < at + 20 or f[at] >> 4 != 4:
        return
    k.ipv4.add(int.from_bytes(f[at + 12 : at + 16], "big"))
    k.ipv4.add(int.from_bytes(f[at + 16 : at + 20], "big"))
    ihl = (f[at] & 0x0F) * 4
    if ihl < 20:
        return
    k.proto = f[at + 9]
    if _u16(f, at + 6) & 0x1FFF:
        return
    _ports(f, at + ihl, k.proto, k)


def _ipv6(f: bytes, at: int, k: _Keys) -> None:
    if len(f) < at + 40 or f[at] >> 4 != 6:
        return
    k.ipv6.add(f[at + 8 : at + 24])
    k.ipv6.add(f[at + 24 : at + 40])
    nh = f[at + 6]
    at += 40
    count = 0
    while nh in IPV6_EXT or nh in (AH, FRAGMENT):
        if count == 16:
            k.proto = nh
            return
        count += 1
        if nh == FRAGMENT:
            if len(f) < at + 8:
                k.proto = nh
                return
            nxt = f[at]
            if _u16(f, at + 2) >> 3:
                k.proto = nxt
                return
            nh = nxt
            at += 8
            continue
        if len(f) < at + 2:
            k.proto = nh
            return
        nxt = f[at]
        at += (f[at + 1] + 2) * 4 if nh == AH else (f[at + 1] + 1) * 8
        nh = nxt
    k.proto = nh
    _ports(f, at, nh, k)
