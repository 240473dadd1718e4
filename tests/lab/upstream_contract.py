"""What upstream stenotype indexes a captured frame under, re-derived from the
reference (``shared/reference/stenographer.md`` §2.8), for the tests.

This is the description written a second time as code, over the bytes stored
in the packet file (after the kernel took the outer VLAN tag off), slow and
simple.  It is not steno's contract (``docs/index-keys.md``,
``tests/lab/contract_parser.py``); ``classify`` names every way in which the
two differ on a frame, and ``docs/upstream-compat.md`` explains each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import attrs

from steno.lab.truth import Key, KeyType
from steno.store.upstream_index import encode_value

VLAN = {0x8100, 0x88A8, 0x9100, 0x9200, 0x9300}
MPLS = {0x8847, 0x8848}
EXT = {0, 43, 60, 135}


@attrs.define
class Walk:
    """What the upstream walk found in a frame, and what it met on the way."""

    keys: set[Key] = attrs.field(factory=set)
    tags: int = 0
    labels: int = 0
    inner: int = 0  # Ethernet frames behind pseudowire control words
    ip: tuple[int, int] | None = None  # (IP version by EtherType, header offset)
    cut_label: int | None = None  # a last label entry dropped: no byte after it
    cut_chain: bool = False  # the IPv6 extension chain ran past the captured end
    short_transport: bool = False  # TCP < 20 or UDP < 8 bytes captured (no ports)


def upstream_keys_of(frame: bytes) -> frozenset[Key]:
    return frozenset(upstream_walk(frame).keys)


def upstream_walk(frame: bytes) -> Walk:
    w = Walk()
    keys = w.keys
    n = len(frame)

    def u16(p: int) -> int:
        return frame[p] << 8 | frame[p + 1]

    # Ethernet, then tags and labels; inner Ethernet frames behind a control word.
    if n < 14:
        return w
    et = u16(12)
    p = 14
    while True:
        if et in VLAN:
            if p + 4 > n:
                return w
            w.tags += 1
            keys.add((KeyType.VLAN, u16(p) & 0xFFF))
            et = u16(p + 2)
            p += 4
        elif et in MPLS:
            while True:
                if p + 5 > n:  # the entry and the byte after it
                    if p + 4 <= n:
                        w.cut_label = int.from_bytes(frame[p : p + 4], "big") >> 12
                    return w
                entry = int.from_bytes(frame[p : p + 4], "big")
                w.labels += 1
                keys.add((KeyType.MPLS, entry >> 12))
                p += 4
                if entry & 0x100:
                    break
            nib = frame[p] >> 4
            if nib == 4:
                et = 0x0800
            elif nib == 6:
                et = 0x86DD
            elif nib == 0:
                p += 4
                if p + 14 > n:
                    return w
                w.inner += 1
                et = u16(p + 12)
                p += 14
            else:
                return w
        else:
            break

    if et == 0x0800:
        if p + 20 > n:
            return w
        w.ip = (4, p)
        keys.add((KeyType.IPV4, int.from_bytes(frame[p + 12 : p + 16], "big")))
        keys.add((KeyType.IPV4, int.from_bytes(frame[p + 16 : p + 20], "big")))
        ihl = (frame[p] & 0xF) * 4
        if ihl < 20:
            return w
        proto = frame[p + 9]
        p += ihl  # the fragment offset is not looked at
    elif et == 0x86DD:
        if p + 40 > n:
            return w
        w.ip = (6, p)
        proto = frame[p + 6]
        keys.add((KeyType.IPV6, int.from_bytes(frame[p + 8 : p + 24], "big")))
        keys.add((KeyType.IPV6, int.from_bytes(frame[p + 24 : p + 40], "big")))
        p += 40
        while True:
            if proto == 44:
                if p + 8 > n:
                    w.cut_chain = True
                    return w
                if u16(p + 2) >> 3:
                    break  # a later fragment: the protocol stays 44
                proto = frame[p]
                p += 8
            elif proto in EXT:
                if p + 2 > n:
                    w.cut_chain = True
                    return w
                proto, p = frame[p], p + (frame[p + 1] + 1) * 8
            else:
                break
    else:
        return w

    keys.add((KeyType.PROTO, proto))
    need = {6: 20, 17: 8}.get(proto)
    if need is not None:
        if p + need <= n:
            keys.add((KeyType.PORT, u16(p)))
            keys.add((KeyType.PORT, u16(p + 2)))
        else:
            w.short_transport = True
    return w


def key_bytes(key: Key) -> bytes:
    kind, value = key
    return bytes((kind,)) + encode_value(kind, value)


def expected_index(packets: Iterable[tuple[int, frozenset[Key]]]) -> dict[bytes, list[int]]:
    """{key bytes: positions} as upstream writes it for (position, keys) in
    position order (the version record aside)."""
    table: dict[bytes, list[int]] = {}
    for position, keys in packets:
        for key in keys:
            table.setdefault(key_bytes(key), []).append(position)
    return dict(sorted(table.items()))


# --- where upstream and steno's contract differ ------------------------------------------

LIMITS = "beyond steno's limits (16 tags, 16 labels, 4 inner frames): upstream walks on"


def classify(
    frame: bytes,
    stripped_tci: int | None,
    steno: frozenset[Key],
    upstream: frozenset[Key],
) -> list[str]:
    """The documented reasons for every difference between steno's keys and
    upstream's on one captured frame; "unexplained: ..." for anything else."""
    w = upstream_walk(frame)
    assert frozenset(w.keys) == upstream
    reasons: list[str] = []
    missing = set(steno - upstream)
    extra = set(upstream - steno)
    ip_keys = {KeyType.IPV4, KeyType.IPV6, KeyType.PROTO, KeyType.PORT}

    def of(keys: set[Key], *kinds: KeyType) -> set[Key]:
        return {k for k in keys if k[0] in kinds}

    if stripped_tci is not None:
        outer = (KeyType.VLAN, stripped_tci & 0xFFF)
        if outer in missing:
            missing.discard(outer)
            reasons.append("outer VLAN (tp_vlan_tci) not indexed")
    if (w.tags > 16 or w.labels > 16 or w.inner > 4) and extra:
        extra.clear()
        reasons.append(LIMITS)
    if w.ip is not None:
        version, p = w.ip
        if frame[p] >> 4 != version and of(extra, *ip_keys):
            extra -= of(extra, *ip_keys)
            reasons.append("IP header of the wrong version: upstream indexes it anyway")
    steno_proto = {v for k, v in steno if k is KeyType.PROTO}
    upstream_proto = {v for k, v in upstream if k is KeyType.PROTO}
    steno_ports = of(set(steno), KeyType.PORT)
    upstream_ports = of(set(upstream), KeyType.PORT)
    if w.ip is not None and w.ip[0] == 4:
        p = w.ip[1]
        later = (frame[p + 6] << 8 | frame[p + 7]) & 0x1FFF
        if later and upstream_ports and not steno_ports and of(extra, KeyType.PORT):
            extra -= upstream_ports
            reasons.append("IPv4 later fragment: payload read as ports")
    if w.ip is not None and w.ip[0] == 6 and upstream_proto == {44} and steno_proto != {44}:
        extra.discard((KeyType.PROTO, 44))
        missing -= {(KeyType.PROTO, v) for v in steno_proto}
        reasons.append("IPv6 later fragment: proto 44, not the next header")
    if upstream_proto == {51} and steno_proto != {51}:
        extra.discard((KeyType.PROTO, 51))
        missing -= {(KeyType.PROTO, v) for v in steno_proto}
        missing -= steno_ports
        reasons.append("IPv6 AH: upstream stops at it (proto 51, no ports)")
    if steno_ports and not upstream_ports and steno_proto & {33, 132, 136}:
        missing -= steno_ports
        name = {33: "DCCP", 132: "SCTP", 136: "UDP-Lite"}[min(steno_proto & {33, 132, 136})]
        reasons.append(f"{name} ports not indexed (upstream: TCP and UDP only)")
    if w.cut_chain and of(missing, KeyType.PROTO) and not upstream_proto:
        missing -= of(missing, KeyType.PROTO, KeyType.PORT)
        reasons.append("IPv6 extension chain cut short by the capture: upstream records no proto")
    if w.cut_label is not None and (KeyType.MPLS, w.cut_label) in missing:
        missing.discard((KeyType.MPLS, w.cut_label))
        reasons.append("last MPLS label with no byte after it: upstream drops it")
    if w.short_transport and steno_ports and not upstream_ports:
        missing -= steno_ports
        reasons.append("TCP header < 20 or UDP header < 8 bytes: upstream records no ports")
    if missing or extra:
        reasons.append(
            "unexplained: missing "
            + ",".join(sorted(f"{k.label} {v}" for k, v in missing))
            + " extra "
            + ",".join(sorted(f"{k.label} {v}" for k, v in extra))
        )
    return reasons


def difference_counts(
    rows: Iterable[tuple[bytes, int | None, frozenset[Key], frozenset[Key]]],
) -> Counter[str]:
    counts: Counter[str] = Counter()
    for frame, tci, steno, upstream in rows:
        counts.update(classify(frame, tci, steno, upstream))
    return counts
