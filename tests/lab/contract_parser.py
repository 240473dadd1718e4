"""docs/index-keys.md written a second time, over bytes, for the tests.

The generator's truth comes from its construction parameters (steno/lab/_plan.py);
this reads the frame's bytes the way the contract says the capture side does.
The two agreeing on every frame of every profile is the evidence that the
truth is what the contract says.  It is slow and simple on purpose.
"""

from __future__ import annotations

from steno.lab.truth import Key, KeyType

VLAN = {0x8100, 0x88A8, 0x9100, 0x9200, 0x9300}
MPLS = {0x8847, 0x8848}
EXT = {0, 43, 60, 135}
PORTS = {6, 17, 33, 132, 136}


def keys_of(frame: bytes, stripped_tci: int | None = None) -> frozenset[Key]:
    keys: set[Key] = set()
    if stripped_tci is not None:
        keys.add((KeyType.VLAN, stripped_tci & 0xFFF))
    n = len(frame)
    budget = {"tags": 16, "labels": 16, "inner": 4}

    def u16(p: int) -> int:
        return frame[p] << 8 | frame[p + 1]

    def ethernet(p: int) -> None:
        if p + 14 > n:
            return
        et = u16(p + 12)
        p += 14
        while True:
            if et in VLAN:
                if budget["tags"] == 0 or p + 4 > n:
                    return
                budget["tags"] -= 1
                keys.add((KeyType.VLAN, u16(p) & 0xFFF))
                et = u16(p + 2)
                p += 4
            elif et in MPLS:
                while True:
                    if budget["labels"] == 0 or p + 4 > n:
                        return
                    budget["labels"] -= 1
                    entry = int.from_bytes(frame[p : p + 4], "big")
                    keys.add((KeyType.MPLS, entry >> 12))
                    p += 4
                    if entry & 0x100:
                        break
                if p + 1 > n:
                    return
                nib = frame[p] >> 4
                if nib == 4:
                    ipv4(p)
                elif nib == 6:
                    ipv6(p)
                elif nib == 0 and budget["inner"] > 0:
                    budget["inner"] -= 1
                    ethernet(p + 4)
                return
            elif et == 0x0800:
                ipv4(p)
                return
            elif et == 0x86DD:
                ipv6(p)
                return
            else:
                return

    def ipv4(p: int) -> None:
        if p + 20 > n or frame[p] >> 4 != 4:
            return
        keys.add((KeyType.IPV4, int.from_bytes(frame[p + 12 : p + 16], "big")))
        keys.add((KeyType.IPV4, int.from_bytes(frame[p + 16 : p + 20], "big")))
        ihl = (frame[p] & 0xF) * 4
        if ihl < 20:
            return
        proto = frame[p + 9]
        keys.add((KeyType.PROTO, proto))
        if u16(p + 6) & 0x1FFF:
            return
        ports(p + ihl, proto)

    def ipv6(p: int) -> None:
        if p + 40 > n or frame[p] >> 4 != 6:
            return
        keys.add((KeyType.IPV6, int.from_bytes(frame[p + 8 : p + 24], "big")))
        keys.add((KeyType.IPV6, int.from_bytes(frame[p + 24 : p + 40], "big")))
        nh = frame[p + 6]
        p += 40
        count = 0
        while nh in EXT or nh in (44, 51):
            if count == 16:
                break
            if nh == 44:
                if p + 8 > n:
                    break
                count += 1
                nxt = frame[p]
                if u16(p + 2) >> 3:
                    keys.add((KeyType.PROTO, nxt))
                    return
                nh, p = nxt, p + 8
                continue
            if p + 2 > n:
                break
            count += 1
            length = (frame[p + 1] + 2) * 4 if nh == 51 else (frame[p + 1] + 1) * 8
            nh, p = frame[p], p + length
        else:
            keys.add((KeyType.PROTO, nh))
            ports(p, nh)
            return
        keys.add((KeyType.PROTO, nh))

    def ports(p: int, proto: int) -> None:
        if proto in PORTS and p + 4 <= n:
            keys.add((KeyType.PORT, u16(p)))
            keys.add((KeyType.PORT, u16(p + 2)))

    ethernet(0)
    return frozenset(keys)
