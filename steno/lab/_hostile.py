"""The hostile profile: frames a capture parser must survive, each with exact truth.

Every frame is one case of a catalogue below, built from a plan whose walk
gives the truth (``_plan``), then possibly cut short: the truth of a cut frame
is the trail's keys at the captured length.  Cases lie on purpose in the
fields the contract ignores (IPv4 total length, IPv6 payload length, UDP
length) and in the fields it reads (IHL, version, extension header lengths,
stack depths, nibbles after the bottom label, EtherTypes) — in the latter only
where the answer follows from the parameters (see ``PlanError``).

The mark of a hostile frame is its sequence number in the last 4 bytes of the
outer source MAC address (always captured: frames are at least 14 bytes).
Frames whose outer tag the kernel strips are at least 22 bytes long: it drops
shorter ones (it must read 2 bytes past the tag).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address

from steno.lab import _plan as P
from steno.lab import frames as f
from steno.lab._assembly import Assembly, truth_of

_V4 = int(IPv4Address("198.18.0.0"))
_V6 = int(IPv6Address("2001:db8::"))


class _Case:
    def __init__(self, rng: random.Random, mark: int) -> None:
        self.rng = rng
        self.src = b"\x02\xee" + mark.to_bytes(4, "big")

    # -- material --

    def v4(self) -> IPv4Address:
        return IPv4Address(_V4 + self.rng.getrandbits(17))

    def v6(self) -> IPv6Address:
        return IPv6Address(_V6 | self.rng.getrandbits(96))

    def dst_mac(self) -> bytes:
        return b"\x02" + self.rng.randbytes(5)

    def vid(self) -> int:
        return self.rng.randrange(0, 4096)

    def label(self) -> int:
        return self.rng.randrange(0, 1 << 20)

    def eth(self) -> P.Eth:
        return P.Eth(self.dst_mac(), self.src)

    def tags(self, n: int, tpids: tuple[int, ...] = tuple(sorted(f.VLAN_TPIDS))) -> list[P.Layer]:
        vids = self.rng.sample(range(4096), n)
        return [
            P.Dot1Q(f.vlan_tci(v, pcp=self.rng.randrange(8)), tpid=self.rng.choice(tpids))
            for v in vids
        ]

    def labels(self, n: int, bottom: bool = True) -> list[P.Layer]:
        values = self.rng.sample(range(1 << 20), n)
        return [P.Label(v, bottom=bottom and i == n - 1) for i, v in enumerate(values)]

    def l2(self) -> list[P.Layer]:
        """A random layer 2 prefix ending where an IP header may follow."""
        r = self.rng.random()
        if r < 0.3:
            return [self.eth()]
        if r < 0.55:
            return [self.eth(), *self.tags(self.rng.randrange(1, 4))]
        if r < 0.8:
            return [
                self.eth(),
                *self.tags(self.rng.randrange(0, 2)),
                *self.labels(self.rng.randrange(1, 4)),
            ]
        inner: list[P.Layer] = [
            P.ControlWord(self.rng.getrandbits(16)),
            P.Eth(self.dst_mac(), b"\x02" + self.rng.randbytes(5)),
        ]
        return [
            self.eth(),
            *self.labels(self.rng.randrange(1, 3)),
            *inner,
            *self.tags(self.rng.randrange(0, 2)),
        ]

    def transport(self) -> P.Layer:
        rng = self.rng
        sp, dp = rng.randrange(65536), rng.randrange(65536)
        body = rng.randbytes(rng.randrange(0, 64))
        return rng.choice(
            (
                P.Tcp(sp, dp, flags=rng.getrandbits(8), payload=body),
                P.Udp(sp, dp, body, length=rng.choice((None, 0, 7, 65535))),
                P.Sctp(sp, dp, f.sctp_data_chunk(rng.getrandbits(32), body)),
                P.Dccp(sp, dp, payload=body),
                P.UdpLite(sp, dp, body),
                P.Raw(body + b"\0" * 4, proto=rng.choice((f.IPPROTO_GRE, f.IPPROTO_ESP, 253, 255))),
            )
        )

    def ip(self, upper: list[P.Layer]) -> list[P.Layer]:
        if self.rng.random() < 0.5:
            return [
                P.IPv4(self.v4(), self.v4(), total_length=self.rng.choice((None, 0, 19, 65535))),
                *upper,
            ]
        return [
            P.IPv6(self.v6(), self.v6(), payload_length=self.rng.choice((None, 0, 65535))),
            *upper,
        ]

    # -- cases: each returns the plan, and the wire length to cut it to (or None) --

    def truncated(self) -> tuple[list[P.Layer], int | None]:
        plan = [*self.l2(), *self.ip([*self.ext_chain(self.rng.randrange(0, 4)), self.transport()])]
        full = len(P.build(plan).frame)
        return plan, self.rng.randrange(14, full + 1)

    def ext_chain(self, n: int) -> list[P.Layer]:
        out: list[P.Layer] = []
        for _ in range(n):
            kind = self.rng.randrange(5)
            if kind == 0:
                out.append(
                    P.Options6(f.IPPROTO_HOPOPTS, self.rng.randbytes(self.rng.randrange(0, 12)))
                )
            elif kind == 1:
                out.append(P.Options6(f.IPPROTO_DSTOPTS, b""))
            elif kind == 2:
                out.append(P.Routing6(segments=(self.v6(),)))
            elif kind == 3:
                out.append(
                    P.AH6(spi=self.rng.getrandbits(32), seq=1, icv_len=self.rng.choice((4, 12, 16)))
                )
            else:
                out.append(P.Fragment6(0, True, self.rng.getrandbits(32)))
        return out

    def ipv6_chain(self) -> tuple[list[P.Layer], int | None]:
        """Chains from 0 to 20 headers: past 16 the walk gives up (proto = the 17th's type)."""
        n = self.rng.randrange(0, 21)
        if self.rng.random() < 0.5:
            n = self.rng.randrange(14, 21)
        chain = self.ext_chain(n)
        ipl = P.IPv6(self.v6(), self.v6())
        return [*self.l2(), ipl, *chain, self.transport()], None

    def ipv6_ext_lies(self) -> tuple[list[P.Layer], int | None]:
        """An extension header whose length points past the end of the frame."""
        rng = self.rng
        ext: P.Layer = rng.choice(
            (
                P.Options6(f.IPPROTO_HOPOPTS, hdr_ext_len=rng.randrange(20, 256)),
                P.Options6(f.IPPROTO_DSTOPTS, hdr_ext_len=rng.randrange(20, 256)),
                P.Routing6(segments=(self.v6(),), hdr_ext_len=rng.randrange(20, 256)),
                P.AH6(spi=1, seq=1, payload_len=rng.randrange(60, 256)),
            )
        )
        return [self.eth(), P.IPv6(self.v6(), self.v6()), ext, self.transport()], None

    def ipv6_fragments(self) -> tuple[list[P.Layer], int | None]:
        """Later fragments (no ports), first fragments, a fragment header cut short."""
        rng = self.rng
        later = rng.random() < 0.6
        offset = rng.randrange(1, 8192) if later else 0
        upper = self.transport()
        if later:
            proto = rng.choice((f.IPPROTO_TCP, f.IPPROTO_UDP, f.IPPROTO_SCTP))
            upper = P.Raw(rng.randbytes(rng.randrange(8, 80)), proto=proto)
        plan = [
            *self.l2(),
            P.IPv6(self.v6(), self.v6()),
            P.Fragment6(offset, rng.random() < 0.5, 7),
            upper,
        ]
        cut = None
        if rng.random() < 0.3:
            at = P.build(plan).offset_of(P.Fragment6)
            cut = at + rng.randrange(0, 8)
        return plan, cut

    def ipv6_odd(self) -> tuple[list[P.Layer], int | None]:
        """Mobility header with no next header, a bad version, No Next Header."""
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return [
                *self.l2(),
                P.IPv6(self.v6(), self.v6()),
                P.Mobility6(),
                P.Raw(b"", proto=f.IPPROTO_NONE),
            ], None
        if r < 0.7:
            version = rng.choice((0, 4, 5, 7, 15))
            return [
                self.eth(),
                *self.tags(rng.randrange(0, 3)),
                P.IPv6(self.v6(), self.v6(), version=version),
                self.transport(),
            ], None
        return [
            *self.l2(),
            P.IPv6(self.v6(), self.v6()),
            P.Raw(rng.randbytes(20), proto=f.IPPROTO_NONE),
        ], None

    def ipv4_lies(self) -> tuple[list[P.Layer], int | None]:
        rng = self.rng
        r = rng.random()
        src, dst = self.v4(), self.v4()
        if r < 0.25:  # IHL below 5: addresses, no protocol
            return [*self.l2(), P.IPv4(src, dst, ihl=rng.randrange(0, 5)), self.transport()], None
        if r < 0.45:  # IHL beyond the end of the frame
            raw = P.Raw(rng.randbytes(rng.randrange(0, 30)), proto=f.IPPROTO_TCP)
            return [*self.l2(), P.IPv4(src, dst, ihl=15), raw], None
        if r < 0.6:  # options that are garbage, IHL consistent
            opts = rng.randbytes(4 * rng.randrange(1, 11))
            return [*self.l2(), P.IPv4(src, dst, options=opts), self.transport()], None
        if r < 0.8:  # a later fragment whose payload looks like a TCP header
            seg = f.tcp(src, dst, rng.randrange(65536), rng.randrange(65536))
            frag = P.IPv4(
                src,
                dst,
                proto=f.IPPROTO_TCP,
                frag_offset=rng.randrange(1, 8192),
                mf=rng.random() < 0.5,
            )
            return [*self.l2(), frag, P.Raw(seg)], None
        version = rng.choice((0, 5, 6, 15))  # over MPLS the nibble would mislead: no labels
        return [
            self.eth(),
            *self.tags(rng.randrange(0, 3)),
            P.IPv4(src, dst, version=version),
            self.transport(),
        ], None

    def deep_tags(self) -> tuple[list[P.Layer], int | None]:
        n = self.rng.randrange(12, 25)
        return [self.eth(), *self.tags(n), *self.ip([self.transport()])], None

    def deep_labels(self) -> tuple[list[P.Layer], int | None]:
        rng = self.rng
        n = rng.randrange(12, 25)
        if rng.random() < 0.3:  # no bottom of stack until the frame ends
            return [self.eth(), *self.labels(n, bottom=False)], None
        return [
            self.eth(),
            *self.tags(rng.randrange(0, 2)),
            *self.labels(n),
            *self.ip([self.transport()]),
        ], None

    def mpls_odd_nibble(self) -> tuple[list[P.Layer], int | None]:
        rng = self.rng
        nibble = rng.choice((1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15))
        raw = P.Raw(bytes([nibble << 4 | rng.randrange(16)]) + rng.randbytes(rng.randrange(0, 60)))
        return [self.eth(), *self.labels(rng.randrange(1, 4)), raw], None

    def nested_pw(self) -> tuple[list[P.Layer], int | None]:
        rng = self.rng
        plan: list[P.Layer] = [self.eth()]
        for _ in range(rng.randrange(1, 7)):
            plan += [
                *self.tags(rng.randrange(0, 2)),
                *self.labels(rng.randrange(1, 3)),
                P.ControlWord(),
            ]
            plan.append(P.Eth(self.dst_mac(), b"\x02" + rng.randbytes(5)))
        plan += self.ip([self.transport()])
        return plan, None

    def odd_ethertype(self) -> tuple[list[P.Layer], int | None]:
        rng = self.rng
        ethertype = rng.choice(
            (f.ETH_P_ARP, f.ETH_P_LLDP, 0x0000, 0x05DC, 0x0600, 0xFFFF, 0x8137, 0x88B5, 0x86DE)
        )
        body = P.Raw(rng.randbytes(rng.randrange(0, 64)), ethertype=ethertype)
        return [self.eth(), *self.tags(rng.randrange(0, 3)), body], None

    def tiny(self) -> tuple[list[P.Layer], int | None]:
        """14 to 21 bytes: Ethernet alone, or a tag the kernel leaves in place, cut."""
        rng = self.rng
        tpids = (f.TPID_QINQ_9100, f.TPID_QINQ_9200, f.TPID_QINQ_9300)
        plan = [self.eth(), *self.tags(rng.randrange(0, 3), tpids), *self.ip([self.transport()])]
        return plan, rng.randrange(14, 22)


_CASES: tuple[tuple[str, Callable[[_Case], tuple[list[P.Layer], int | None]], int], ...] = (
    ("truncated", _Case.truncated, 25),
    ("ipv6-chain", _Case.ipv6_chain, 8),
    ("ipv6-ext-lies", _Case.ipv6_ext_lies, 6),
    ("ipv6-fragments", _Case.ipv6_fragments, 8),
    ("ipv6-odd", _Case.ipv6_odd, 5),
    ("ipv4-lies", _Case.ipv4_lies, 12),
    ("deep-tags", _Case.deep_tags, 8),
    ("deep-labels", _Case.deep_labels, 8),
    ("mpls-odd-nibble", _Case.mpls_odd_nibble, 4),
    ("nested-pw", _Case.nested_pw, 6),
    ("odd-ethertype", _Case.odd_ethertype, 6),
    ("tiny", _Case.tiny, 4),
)


def generate_hostile(rng: random.Random, count: int, out: Assembly) -> None:
    """Appends hostile frames to out until it holds count frames."""
    names = [c[0] for c in _CASES]
    makers = {c[0]: c[1] for c in _CASES}
    weights = [c[2] for c in _CASES]
    while out.count < count:
        name = rng.choices(names, weights)[0]
        case = _Case(rng, out.count)
        plan, cut = makers[name](case)
        built = P.build(plan)
        frame = built.frame
        strippable = (
            len(plan) > 1
            and isinstance(plan[1], P.Dot1Q)
            and plan[1].tpid in f.KERNEL_STRIPPED_TPIDS
        )
        if cut is not None:
            cut = max(cut, 22 if strippable else 14)
            frame = frame[:cut]
        if strippable and len(frame) < 22:
            continue
        caplen = len(frame) - (4 if strippable else 0)
        truth = truth_of(built, flow=-1, case=f"hostile/{name}", caplen=caplen)
        out.add(frame, out.truth_id(truth))
