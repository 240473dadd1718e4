"""Seeded traffic with ground truth: what tests inject, the benchmark replays and
queries are checked against.

``generate(seed, count, profile)`` returns ``count`` frames and, for each, the
index keys of ``docs/index-keys.md`` it must be found under.  The same seed,
count and profile always give the same bytes (Python 3.11's ``random.Random``).

Theory of operation
-------------------
Traffic is made of *flows* (conversations between two hosts, both directions),
drawn with heavy-tailed sizes and interleaved at random, as on a real link.
Each flow direction is described once as a frame plan (``_plan``): the layers
with their construction parameters.  The plan gives the truth (its walk reads
parameters, not bytes) and the byte prefix of every frame of that direction
(layer 2, tags, labels, IP and extension headers).  Frames are then made from
*templates*, one per (direction, TCP flags, payload length): the prefix with
its length fields set, the transport header and payload.  Per frame only a few
fields change — the mark, TCP sequence and acknowledgement numbers, the ICMP
sequence — and the transport checksum is updated incrementally (each 32-bit
field at an even offset adds its value modulo 0xffff to the one's complement
sum).  That keeps Python's per-frame work to a copy and a few ``pack_into``.

Every frame carries a *mark*, its sequence number in the traffic (32 bits), so
that it is unique and a captured packet can be matched to its truth by bytes:
TCP in the TSval of its timestamps option (mixed) or its payload or the
Ethernet padding (imix, small); UDP, UDP-Lite, DCCP, ICMP, SCTP at the start of
their payload; ESP in its sequence number; every fragment at the start of its
data; hostile frames in the source MAC address.

Sizes are those of the frame handed to the NIC, without the 4-byte FCS: the
classic 64/570/1518-byte IMIX frames are 60/566/1514 bytes here, and "small"
frames are 60 bytes (64 on the wire).  Jumbo frames are 9000 bytes.
"""

from __future__ import annotations

import gc
import itertools
import random
import struct
from array import array
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address

import attrs

from steno.lab import _plan as P
from steno.lab import frames as f
from steno.lab._assembly import Assembly, truth_of
from steno.lab._hostile import generate_hostile
from steno.lab.truth import FrameTruth, Key, TruthRecord

PROFILES = ("mixed", "imix", "small", "hostile")
IMIX_SIZES = (60, 566, 1514)  # 64/570/1518 on the wire, with the FCS
IMIX_WEIGHTS = (7, 4, 1)
SMALL_SIZE = 60
JUMBO_SIZE = 9000
IP_MTU = 1500

_U16 = struct.Struct(">H").pack_into
_U32 = struct.Struct(">I").pack_into
_U32LE = struct.Struct("<I").pack_into
_2U32 = struct.Struct(">II").pack_into


@attrs.frozen(eq=False)
class Traffic:
    """Generated frames back to back in ``data`` (frame i is
    ``data[offsets[i]:offsets[i+1]]``) and their truth (``truths[truth_ids[i]]``).

    ``data`` is the generator's own buffer, handed over without a copy (a copy
    of a gigabyte costs seconds of page faults on these VMs): do not modify it."""

    seed: int
    profile: str
    data: bytearray
    offsets: array[int]
    truth_ids: array[int]
    truths: tuple[FrameTruth, ...]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def frame(self, i: int) -> bytes:
        return bytes(self.data[self.offsets[i] : self.offsets[i + 1]])

    def frames(self) -> Iterator[bytes]:
        data, off = self.data, self.offsets
        for i in range(len(off) - 1):
            yield bytes(data[off[i] : off[i + 1]])

    def truth(self, i: int) -> FrameTruth:
        return self.truths[self.truth_ids[i]]

    def keys(self, i: int) -> frozenset[Key]:
        return self.truths[self.truth_ids[i]].keys

    def captured(self, i: int) -> tuple[bytes, f.Tag | None]:
        """Frame i as the receiving kernel hands it to AF_PACKET: without the
        outer 802.1Q/802.1ad tag, which it reports beside the frame."""
        frame = self.frame(i)
        if self.truth(i).outer_tag is None:
            return frame, None
        return f.strip_outer_tag(frame)

    def records(self) -> Iterator[TruthRecord]:
        off, ids, truths = self.offsets, self.truth_ids, self.truths
        for i in range(len(off) - 1):
            yield TruthRecord(seq=i, length=off[i + 1] - off[i], truth=truths[ids[i]])

    @property
    def total_bytes(self) -> int:
        return len(self.data)


def generate(seed: int, count: int, profile: str = "mixed") -> Traffic:
    """count frames of profile ("mixed", "imix", "small" or "hostile") for seed."""
    if count < 0:
        raise ValueError("count must be >= 0")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
    out = Assembly()
    # Millions of small objects come and go; none forms a cycle worth chasing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if profile == "hostile":
            generate_hostile(random.Random(seed), count, out)
        else:
            _Flows(random.Random(seed), profile, out).run(count)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Traffic(
        seed=seed,
        profile=profile,
        data=out.buf,
        offsets=out.offsets,
        truth_ids=out.truth_ids,
        truths=tuple(out.truths),
    )


# --- hosts ------------------------------------------------------------------------------


class _Hosts:
    """Address pools: clients and (popular, skewed) servers in both families."""

    def __init__(self, rng: random.Random) -> None:
        base4c = int(IPv4Address("198.18.0.0"))
        base4s = int(IPv4Address("198.19.0.0"))
        self.v4_clients = [IPv4Address(base4c + i) for i in rng.sample(range(1, 65535), 4096)]
        self.v4_servers = [IPv4Address(base4s + i) for i in rng.sample(range(1, 65535), 1024)]
        net6 = int(IPv6Address("2001:db8::"))
        self.v6_clients = [
            IPv6Address(net6 | (0x1000 + rng.getrandbits(12)) << 80 | rng.getrandbits(64))
            for _ in range(2048)
        ]
        self.v6_servers = [
            IPv6Address(net6 | (0x2000 + rng.getrandbits(8)) << 80 | rng.getrandbits(16))
            for _ in range(512)
        ]
        self.rng = rng

    def pair(self, family: int) -> tuple[f.IPAddress, f.IPAddress]:
        rng = self.rng
        clients, servers = (
            (self.v4_clients, self.v4_servers)
            if family == 4
            else (self.v6_clients, self.v6_servers)
        )
        client = clients[rng.randrange(len(clients))]
        server = servers[int(len(servers) * rng.random() ** 2.5)]  # a few servers are popular
        return client, server


def _mac(rng: random.Random) -> bytes:
    """A locally administered unicast MAC."""
    return bytes([0x02 | (rng.getrandbits(6) << 2)]) + rng.randbytes(5)


# --- flows ------------------------------------------------------------------------------

_SERVER_PORTS = {
    "tcp": (443, 443, 443, 80, 80, 22, 25, 8080, 993, 5432),
    "udp": (53, 53, 53, 123, 443, 5060, 1194),
    "udpfrag": (2049, 5004, 9000),
    "udplite": (5004, 5006),
    "dccp": (5001, 6000),
    "sctp": (2905, 3868, 38412, 36412),
}


@attrs.define(slots=True)
class _Template:
    data: bytes
    truth_id: int
    mark_off: int
    mark_in_csum: bool
    seq_off: int = -1  # TCP seq and ack, both 32 bits
    small_off: int = -1  # ICMP sequence, 16 bits
    csum_off: int = -1
    csum_sum: int = 0
    zero_is_ffff: bool = False  # UDP sends a computed 0 as 0xffff
    crc_start: int = -1  # SCTP: CRC-32C over data[crc_start:crc_end]
    crc_end: int = -1


@attrs.define(slots=True)
class _Skeleton:
    """One flow direction: bytes before the transport header, and its truth."""

    prefix: bytes
    ip_off: int
    v4: bool
    src: f.IPAddress
    dst: f.IPAddress
    truth_id: int


@attrs.define(slots=True)
class _FragmentPrefix:
    """One flow direction's fragments: bytes before the fragment data."""

    prefix: bytes
    ip_off: int
    v4: bool
    piece: int  # fragment data bytes (a multiple of 8)
    first: int  # truth ids
    later: int


@attrs.define(slots=True)
class _Flow:
    fid: int
    kind: str
    family: int
    client: f.IPAddress
    server: f.IPAddress
    cport: int
    sport: int
    l2: tuple[list[P.Layer], list[P.Layer]]  # per direction, outermost first
    ip_extra: list[P.Layer]  # IPv6 extension headers (IPv4 options live in ip_opts)
    ip_opts: bytes
    steps: Iterator[tuple[int, int, int]]
    ts: bool
    filler: bytes
    skel: list[_Skeleton | None] = attrs.field(factory=lambda: [None, None])
    frag: list[_FragmentPrefix | None] = attrs.field(factory=lambda: [None, None])
    templates: dict[tuple[int, int, int], _Template] = attrs.field(factory=dict)
    seq: list[int] = attrs.field(factory=lambda: [0, 0])
    counter: int = 0
    ident: int = 0
    tsecr: int = 0


def _pareto(rng: random.Random, xm: float, alpha: float, cap: int) -> int:
    return min(cap, int(xm / (1.0 - rng.random()) ** (1.0 / alpha)))


class _Flows:
    """Interleaves flows of a profile into an Assembly."""

    ACTIVE = 48

    def __init__(self, rng: random.Random, profile: str, out: Assembly) -> None:
        self.rng = rng
        self.profile = profile
        self.out = out
        self.hosts = _Hosts(rng)
        self.fid = 0
        self.noise = rng.randbytes(1 << 15)
        self.sizes: Iterator[int] | None = None
        if profile == "imix":
            self.sizes = self._imix_sizes()
        elif profile == "small":
            self.sizes = itertools.repeat(SMALL_SIZE)

    def _imix_sizes(self) -> Iterator[int]:
        """Exactly 7:4:1 in every run of 12 frames, shuffled within the run."""
        block = [s for s, w in zip(IMIX_SIZES, IMIX_WEIGHTS, strict=True) for _ in range(w)]
        while True:
            self.rng.shuffle(block)
            yield from block

    def run(self, count: int) -> None:
        rand = self.rng.random
        n_active = self.ACTIVE
        active = [self._new_flow() for _ in range(n_active)]
        out = self.out
        while out.count < count:
            i = int(rand() * n_active)
            flow = active[i]
            step = next(flow.steps, None)
            if step is None:
                active[i] = self._new_flow()
                continue
            self._emit(flow, step, count)

    # -- flow set-up --

    def _new_flow(self) -> _Flow:
        rng = self.rng
        self.fid += 1
        fixed = self.sizes is not None
        if fixed:
            family = 4
            kind = "tcp" if rng.random() < 0.7 else ("udp" if rng.random() < 0.85 else "icmp")
        else:
            family = 6 if rng.random() < 0.3 else 4
            kind = rng.choices(
                ("tcp", "jumbo", "udp", "udpfrag", "icmp", "sctp", "esp", "udplite", "dccp"),
                (60, 1, 18, 4, 7, 3, 3, 2, 2),
            )[0]
        client, server = self.hosts.pair(family)
        cport = rng.randrange(32768, 61000)
        if kind in ("tcp", "jumbo"):
            sport = rng.choice(_SERVER_PORTS["tcp"])
        elif kind in _SERVER_PORTS:
            sport = rng.choice(_SERVER_PORTS[kind])
        else:
            sport = 0
        l2 = self._l2(kind == "jumbo" or fixed)
        ip_extra: list[P.Layer] = []
        ip_opts = b""
        if not fixed and family == 6 and rng.random() < 0.15:
            ip_extra = self._ext_chain(server)
        elif not fixed and family == 4 and rng.random() < 0.03:
            ip_opts = rng.choice(
                (f.ipv4_option_router_alert(), f.ipv4_option_nop() + f.ipv4_option_record_route(2))
            )
        n = _pareto(rng, 8.0, 1.1, 50000)
        steps = itertools.islice(self._steps(kind, fixed), n)
        start = rng.randrange(len(self.noise) - JUMBO_SIZE)
        flow = _Flow(
            fid=self.fid,
            kind=kind,
            family=family,
            client=client,
            server=server,
            cport=cport,
            sport=sport,
            l2=l2,
            ip_extra=ip_extra,
            ip_opts=ip_opts,
            steps=steps,
            ts=not fixed,
            filler=b"\0\0\0\0" + self.noise[start + 4 : start + JUMBO_SIZE],
        )
        flow.seq = [rng.getrandbits(32), rng.getrandbits(32)]
        flow.ident = rng.getrandbits(16)
        flow.tsecr = rng.getrandbits(32)
        return flow

    def _l2(self, plain_only: bool) -> tuple[list[P.Layer], list[P.Layer]]:
        """Layer 2 of both directions: Ethernet, tags, labels, pseudowires."""
        rng = self.rng
        a, b = _mac(rng), _mac(rng)
        r = 0.0 if plain_only else rng.random()
        fwd: list[P.Layer]
        rev: list[P.Layer]
        if r < 0.55:
            return [P.Eth(b, a)], [P.Eth(a, b)]
        if r < 0.70:
            tags: list[P.Layer] = [
                P.Dot1Q(f.vlan_tci(rng.randrange(1, 4095), pcp=rng.randrange(8)))
            ]
        elif r < 0.78:
            tags = [
                P.Dot1Q(f.vlan_tci(rng.randrange(1, 4095)), tpid=f.TPID_8021AD),
                P.Dot1Q(f.vlan_tci(rng.randrange(1, 4095))),
            ]
        elif r < 0.80:
            tags = [
                P.Dot1Q(f.vlan_tci(rng.randrange(1, 4095)), tpid=f.TPID_QINQ_9100),
                P.Dot1Q(f.vlan_tci(rng.randrange(1, 4095))),
            ]
        else:
            tags = []
        if r < 0.80:
            return [P.Eth(b, a), *tags], [P.Eth(a, b), *tags]
        # MPLS: labels differ per direction (they are per-LSP).
        outer_tags: list[P.Layer] = []
        if r < 0.83:
            outer_tags = [P.Dot1Q(f.vlan_tci(rng.randrange(1, 4095)))]
        depth = rng.choice((1, 1, 2, 2, 3))
        fwd_labels = self._labels(depth)
        rev_labels = self._labels(depth)
        if r < 0.90:  # IP directly over MPLS
            return [P.Eth(b, a), *outer_tags, *fwd_labels], [P.Eth(a, b), *outer_tags, *rev_labels]
        # Ethernet pseudowire with control word, inner frame maybe tagged.
        c, d = _mac(rng), _mac(rng)
        inner_tags: list[P.Layer] = []
        if rng.random() < 0.4:
            inner_tags = [P.Dot1Q(f.vlan_tci(rng.randrange(1, 4095)))]
        fwd = [P.Eth(b, a), *outer_tags, *fwd_labels, P.ControlWord(), P.Eth(d, c), *inner_tags]
        rev = [P.Eth(a, b), *outer_tags, *rev_labels, P.ControlWord(), P.Eth(c, d), *inner_tags]
        return fwd, rev

    def _labels(self, depth: int) -> list[P.Layer]:
        rng = self.rng
        return [
            P.Label(rng.randrange(16, 1 << 20), bottom=i == depth - 1, tc=rng.randrange(8))
            for i in range(depth)
        ]

    def _ext_chain(self, server: f.IPAddress) -> list[P.Layer]:
        rng = self.rng
        hbh = P.Options6(f.IPPROTO_HOPOPTS, f.ipv6_option_router_alert())
        dst = P.Options6(f.IPPROTO_DSTOPTS, b"")
        assert isinstance(server, IPv6Address)
        seg = IPv6Address(int(server) ^ rng.getrandbits(16))
        rt = P.Routing6(segments=(server, seg))
        ah = P.AH6(spi=rng.getrandbits(32) | 0x100, seq=rng.getrandbits(16))
        chains: tuple[list[P.Layer], ...] = ([hbh], [dst], [rt], [hbh, dst], [ah], [hbh, rt, dst])
        return list(rng.choice(chains))

    def _steps(self, kind: str, fixed: bool) -> Iterator[tuple[int, int, int]]:
        """(direction, TCP flags or 0, payload length or -1 for the profile's size)."""
        rng = self.rng
        if kind in ("tcp", "jumbo"):
            yield 0, f.SYN, 0
            yield 1, f.SYN | f.ACK, 0
            yield 0, f.ACK, 0
            if fixed:
                while True:
                    yield (0 if rng.random() < 0.5 else 1), 0, -1
            yield 0, f.PSH | f.ACK, rng.randrange(40, 700)
            # A few segment sizes per flow, so that its frames share templates.
            tails = (0, 0, rng.randrange(1, 1400), rng.randrange(1, 1400))
            while True:
                burst = rng.choice((1, 2, 2, 4, 8, 16))
                for k in range(burst):
                    last = k == burst - 1
                    size = tails[rng.randrange(4)] if last else 0
                    yield 1, (f.PSH | f.ACK) if last else f.ACK, size  # 0: a full segment
                    if k % 2 == 1 or last:
                        yield 0, f.ACK, 0
                if rng.random() < 0.08:
                    break
            yield 0, f.FIN | f.ACK, 0
            yield 1, f.FIN | f.ACK, 0
            yield 0, f.ACK, 0
        elif kind in ("udp", "udplite", "dccp"):
            if fixed:
                while True:
                    yield (0 if rng.random() < 0.5 else 1), 0, -1
            if rng.random() < 0.6:  # request/response
                q = rng.randrange(20, 120)
                answers = (rng.randrange(40, 900), rng.randrange(40, 900), rng.randrange(40, 200))
                while True:
                    yield 0, 0, q
                    yield 1, 0, answers[rng.randrange(3)]
            size = rng.randrange(160, 1400)
            while True:  # a one-way stream
                yield 1, 0, size
        elif kind == "udpfrag":
            while True:
                yield 1, 0, rng.randrange(1600, 8000)
        elif kind == "icmp":
            size = rng.choice((56, 56, 56, 32, rng.randrange(16, 1400)))
            while True:
                yield 0, 0, -1 if fixed else size
                yield 1, 0, -1 if fixed else size
        elif kind == "sctp":
            while True:
                yield (0 if rng.random() < 0.5 else 1), 0, rng.randrange(20, 300)
        elif kind == "esp":
            size = rng.randrange(60, 1400)
            while True:
                yield (0 if rng.random() < 0.8 else 1), 0, size
        else:  # pragma: no cover - kinds above are exhaustive
            raise AssertionError(kind)

    # -- per direction and per frame --

    def _skeleton(self, flow: _Flow, d: int) -> _Skeleton:
        sk = flow.skel[d]
        if sk is not None:
            return sk
        src, dst = (flow.client, flow.server) if d == 0 else (flow.server, flow.client)
        sp, dp = (flow.cport, flow.sport) if d == 0 else (flow.sport, flow.cport)
        ip: P.Layer
        if isinstance(src, IPv4Address) and isinstance(dst, IPv4Address):
            ip = P.IPv4(src, dst, ident=flow.ident, df=True, options=flow.ip_opts)
        else:
            assert isinstance(src, IPv6Address)
            assert isinstance(dst, IPv6Address)
            ip = P.IPv6(src, dst, flow_label=flow.fid & 0xFFFFF)
        leaf = self._leaf(flow, sp, dp, src)
        plan = [*flow.l2[d], ip, *flow.ip_extra, leaf]
        built = P.build(plan)
        l4_off = built.placed[len(plan) - 1].offset
        ip_off = built.placed[len(flow.l2[d])].offset
        truth = truth_of(built, flow=flow.fid, case=self._case(flow))
        sk = _Skeleton(
            prefix=built.frame[:l4_off],
            ip_off=ip_off,
            v4=isinstance(src, IPv4Address),
            src=src,
            dst=dst,
            truth_id=self.out.truth_id(truth),
        )
        flow.skel[d] = sk
        return sk

    def _case(self, flow: _Flow) -> str:
        proto = {"jumbo": "tcp", "udpfrag": "udp-fragments"}.get(flow.kind, flow.kind)
        if flow.kind == "icmp" and flow.family == 6:
            proto = "icmpv6"
        return f"ipv{flow.family}/{proto}"

    def _leaf(self, flow: _Flow, sp: int, dp: int, src: f.IPAddress) -> P.Layer:
        kind = flow.kind
        if kind in ("tcp", "jumbo"):
            return P.Tcp(sp, dp)
        if kind in ("udp", "udpfrag"):
            return P.Udp(sp, dp)
        if kind == "udplite":
            return P.UdpLite(sp, dp)
        if kind == "dccp":
            return P.Dccp(sp, dp)
        if kind == "sctp":
            return P.Sctp(sp, dp, b"")
        if kind == "icmp":
            return P.Icmp6(128, 0, b"") if flow.family == 6 else P.Icmp(8, 0, b"")
        return P.Raw(b"", proto=f.IPPROTO_ESP)

    def _template(self, flow: _Flow, d: int, flags: int, paylen: int) -> _Template:
        """A frame of this flow direction with every per-frame field zero."""
        sk = self._skeleton(flow, d)
        kind = flow.kind
        src, dst = sk.src, sk.dst
        sp, dp = (flow.cport, flow.sport) if d == 0 else (flow.sport, flow.cport)
        payload = flow.filler[:paylen]
        mark_off = 8
        mark_in_csum = True
        seq_off = small_off = -1
        csum_off = -1
        zero_is_ffff = False
        crc = False
        if kind in ("tcp", "jumbo"):
            opts = b""
            if flow.ts:
                opts = f.tcp_option_timestamps(0, 0 if flags & f.SYN else flow.tsecr)
                if flags & f.SYN:
                    opts += f.tcp_option_mss(IP_MTU - 40)
            seg = f.tcp(src, dst, sp, dp, flags=flags, options=opts, payload=payload)
            seq_off, csum_off = 4, 16
            if flow.ts:
                mark_off = 24
            elif paylen >= 4:
                mark_off = 20 + len(opts)
            else:
                mark_off = -1  # in the Ethernet padding, set below
                mark_in_csum = False
        elif kind in ("udp", "udplite"):
            if kind == "udp":
                seg = f.udp(src, dst, sp, dp, payload)
                zero_is_ffff = True
            else:
                seg = f.udplite(src, dst, sp, dp, payload)
                zero_is_ffff = True
                mark_in_csum = False  # its checksum covers the header only
            csum_off = 6
        elif kind == "dccp":
            seg = f.dccp(src, dst, sp, dp, seq=flow.fid, payload=payload)
            mark_off, csum_off = 16, 6
        elif kind == "icmp":
            body = struct.pack(">HH", flow.fid & 0xFFFF, 0) + payload
            icmp_type = (128 if d == 0 else 129) if flow.family == 6 else (8 if d == 0 else 0)
            if isinstance(src, IPv6Address) and isinstance(dst, IPv6Address):
                seg = f.icmpv6(src, dst, icmp_type, 0, body)
            else:
                seg = f.icmp(icmp_type, 0, body)
            small_off, csum_off = 6, 2
        elif kind == "sctp":
            chunk = f.sctp_data_chunk(0, payload, stream=1, ppid=46)
            seg = f.sctp(sp, dp, chunk, vtag=flow.fid)
            mark_off = 12 + 16
            mark_in_csum = False
            crc = True
        else:  # esp: SPI, sequence number (the mark), opaque rest
            seg = struct.pack(">II", 0x1000 + flow.fid, 0) + payload
            mark_off, mark_in_csum = 4, False
        prefix = bytearray(sk.prefix)
        l4 = len(prefix)
        if sk.v4:
            _U16(prefix, sk.ip_off + 2, l4 - sk.ip_off + len(seg))
            _U16(prefix, sk.ip_off + 10, 0)
            _U16(prefix, sk.ip_off + 10, f.checksum(prefix[sk.ip_off : l4]))
        else:
            _U16(prefix, sk.ip_off + 4, l4 - sk.ip_off - 40 + len(seg))
        frame = bytes(prefix) + seg
        end = len(frame)
        frame = f.pad(frame, f.ETH_MIN_FRAME)
        if mark_off < 0:
            if len(frame) - end < 4:
                raise AssertionError("no room for the mark")
            mark_abs = end
        else:
            mark_abs = l4 + mark_off
        csum_sum = 0
        if csum_off >= 0:
            stored = int.from_bytes(seg[csum_off : csum_off + 2], "big")
            csum_sum = (0xFFFF - stored) % 0xFFFF
        return _Template(
            data=frame,
            truth_id=sk.truth_id,
            mark_off=mark_abs,
            mark_in_csum=mark_in_csum,
            seq_off=l4 + seq_off if seq_off >= 0 else -1,
            small_off=l4 + small_off if small_off >= 0 else -1,
            csum_off=l4 + csum_off if csum_off >= 0 else -1,
            csum_sum=csum_sum,
            zero_is_ffff=zero_is_ffff,
            crc_start=l4 if crc else -1,
            crc_end=end if crc else -1,
        )

    def _emit(self, flow: _Flow, step: tuple[int, int, int], count: int) -> None:
        d, flags, paylen = step
        if flow.kind == "udpfrag":
            self._emit_fragments(flow, d, paylen, count)
            return
        if paylen < 0 or self.sizes is not None:
            paylen, flags = self._fit(flow, d, flags, next(self.sizes) if self.sizes else 0)
        elif paylen == 0 and flags == f.ACK and d == 1 and flow.kind in ("tcp", "jumbo"):
            paylen = self._mss(flow, d)
        key = (d, flags, paylen)
        tpl = flow.templates.get(key)
        if tpl is None:
            tpl = flow.templates[key] = self._template(flow, d, flags, paylen)
        out = self.out
        buf = out.buf
        pos = len(buf)
        buf += tpl.data
        mark = out.count
        _U32(buf, pos + tpl.mark_off, mark)
        total = tpl.csum_sum + (mark if tpl.mark_in_csum else 0)
        if tpl.seq_off >= 0:
            seq, ack = flow.seq[d], flow.seq[1 - d]
            _2U32(buf, pos + tpl.seq_off, seq, ack if flags != f.SYN else 0)
            total += seq + (ack if flags != f.SYN else 0)
            flow.seq[d] = (seq + paylen + (1 if flags & (f.SYN | f.FIN) else 0)) & 0xFFFFFFFF
        if tpl.small_off >= 0:
            flow.counter += 1
            small = flow.counter & 0xFFFF
            _U16(buf, pos + tpl.small_off, small)
            total += small
        if tpl.csum_off >= 0:
            c = 0xFFFF - (total % 0xFFFF or 0xFFFF)
            if c == 0 and tpl.zero_is_ffff:
                c = 0xFFFF
            _U16(buf, pos + tpl.csum_off, c)
        elif tpl.crc_start >= 0:
            _U32LE(buf, pos + tpl.crc_start + 8, 0)
            _U32LE(
                buf, pos + tpl.crc_start + 8, f.crc32c(buf[pos + tpl.crc_start : pos + tpl.crc_end])
            )
        out.offsets.append(len(buf))
        out.truth_ids.append(tpl.truth_id)

    def _mss(self, flow: _Flow, d: int) -> int:
        sk = self._skeleton(flow, d)
        l3 = len(sk.prefix) - sk.ip_off
        tcp_hdr = 32 if flow.ts else 20
        if flow.kind == "jumbo":
            return JUMBO_SIZE - len(sk.prefix) - tcp_hdr
        return IP_MTU - l3 - tcp_hdr

    def _fit(self, flow: _Flow, d: int, flags: int, size: int) -> tuple[int, int]:
        """Payload length (and TCP flags) that make a frame of exactly size bytes."""
        sk = self._skeleton(flow, d)
        head = len(sk.prefix) + {"tcp": 20, "icmp": 8}.get(flow.kind, 8)
        room = size - head
        if flow.kind == "tcp":
            if room <= 6:
                return 0, flags or f.ACK  # no payload: the mark goes in the padding
            return room, flags or f.PSH | f.ACK  # a SYN may carry data (TCP Fast Open)
        if room < 4:
            raise AssertionError(f"a {size}-byte frame has no room for the mark")
        return room, flags

    def _emit_fragments(self, flow: _Flow, d: int, size: int, count: int) -> None:
        """One UDP datagram of size payload bytes, fragmented to the IP MTU.

        The first datagram of a flow direction is built from plans (which give
        the truth of a first and of a later fragment); later ones reuse the
        bytes in front of the fragment data and set the fragment fields."""
        src, dst = (flow.client, flow.server) if d == 0 else (flow.server, flow.client)
        sp, dp = (flow.cport, flow.sport) if d == 0 else (flow.sport, flow.cport)
        out = self.out
        fr = flow.frag[d]
        if fr is None:
            fr = flow.frag[d] = self._fragment_prefix(flow, d)
        piece = fr.piece
        if 0 < (size + 8) % piece < 4:
            size += 4  # the last fragment must have room for its mark
        nfrag = -(-(size + 8) // piece)
        payload = bytearray(flow.filler[:size] * (1 + size // len(flow.filler)))[:size]
        for k in range(nfrag):
            _U32(payload, max(k * piece - 8, 0), out.count + k)
        seg = f.udp(src, dst, sp, dp, bytes(payload))
        ident = self.rng.getrandbits(32)
        head = bytearray(fr.prefix)
        ip = fr.ip_off
        for k in range(nfrag):
            if out.count >= count:
                return
            data = seg[k * piece : (k + 1) * piece]
            field = (k * piece // 8) | (0 if k == nfrag - 1 else 0x2000)
            if fr.v4:
                _U16(head, ip + 2, len(head) - ip + len(data))
                _U16(head, ip + 4, ident & 0xFFFF)
                _U16(head, ip + 6, field)
                _U16(head, ip + 10, 0)
                _U16(head, ip + 10, f.checksum(head[ip:]))
            else:
                _U16(head, ip + 4, len(head) - ip - 40 + len(data))
                _U16(head, len(head) - 6, (field & 0x1FFF) << 3 | (field >> 13 & 1))
                _U32(head, len(head) - 4, ident)
            out.add(f.pad(bytes(head) + data), fr.first if k == 0 else fr.later)

    def _fragment_prefix(self, flow: _Flow, d: int) -> _FragmentPrefix:
        """Plans of a first and a later fragment: their truths and header bytes."""
        src, dst = (flow.client, flow.server) if d == 0 else (flow.server, flow.client)
        sp, dp = (flow.cport, flow.sport) if d == 0 else (flow.sport, flow.cport)
        truths = []
        built = None
        for k in (0, 1):
            raw = P.Raw(bytes(64), proto=f.IPPROTO_UDP, ports=(sp, dp) if k == 0 else None)
            plan: list[P.Layer]
            if isinstance(src, IPv4Address) and isinstance(dst, IPv4Address):
                ip4 = P.IPv4(src, dst, mf=True, frag_offset=8 * k, options=flow.ip_opts)
                plan = [*flow.l2[d], ip4, raw]
            else:
                assert isinstance(src, IPv6Address)
                assert isinstance(dst, IPv6Address)
                unfrag = [x for x in flow.ip_extra if isinstance(x, P.Options6)][:1]
                frag = P.Fragment6(8 * k, True, 0)
                plan = [*flow.l2[d], P.IPv6(src, dst, flow_label=flow.fid), *unfrag, frag, raw]
            built = P.build(plan)
            truth = truth_of(built, flow=flow.fid, case=self._case(flow))
            truths.append(self.out.truth_id(truth))
        assert built is not None
        raw_off = built.offset_of(P.Raw)
        ip_off = built.placed[len(flow.l2[d])].offset
        piece = (IP_MTU - (raw_off - ip_off)) // 8 * 8
        return _FragmentPrefix(
            prefix=built.frame[:raw_off],
            ip_off=ip_off,
            v4=isinstance(src, IPv4Address),
            piece=piece,
            first=truths[0],
            later=truths[1],
        )
