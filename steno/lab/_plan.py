"""Frame plans: a frame described as a list of layers, outermost first.

A plan is the generator's construction record.  Two interpreters read it:

* ``build`` turns it into bytes (through ``frames``) and says where each layer
  starts and what it wrote in its "next type" field;
* ``walk`` applies the rules of ``docs/index-keys.md`` to the *layers* — their
  parameters, never the bytes — and yields the keys the capture side must find.

So the truth is an independent answer key: the C parser reads bytes, the walk
reads parameters, and the two meet only in the contract.

The walk does not guess.  Where the contract would read bytes that no layer
parameter describes (a length that points into the middle of a layer, a port
protocol over opaque data), it raises ``PlanError``: the generator must not
build such a frame unless the bytes in question lie beyond the captured end.

Truncation: every key is found at a point of the walk that needs the frame's
bytes up to some offset, its *requirement*; requirements never decrease along
the walk.  "Stop at the first byte beyond the captured length, keep what was
found" is then "keep the keys whose requirement fits", which ``Trail.keys_at``
computes for any captured length.  The proto key is special for IPv6: it is the
last next-header value read, so each value read is a candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address

import attrs

from steno.lab import frames as f
from steno.lab.truth import Key, KeyType

MAX_TAGS = 16
MAX_LABELS = 16
MAX_INNER_FRAMES = 4
MAX_EXT_HEADERS = 16
PORT_PROTOS = frozenset(
    {f.IPPROTO_TCP, f.IPPROTO_UDP, f.IPPROTO_DCCP, f.IPPROTO_SCTP, f.IPPROTO_UDPLITE}
)
EXT_HEADERS = frozenset(
    {
        f.IPPROTO_HOPOPTS,
        f.IPPROTO_ROUTING,
        f.IPPROTO_DSTOPTS,
        f.IPPROTO_MOBILITY,
        f.IPPROTO_AH,
        f.IPPROTO_FRAGMENT,
    }
)


class PlanError(ValueError):
    """The plan asks the walk to read bytes no layer parameter describes."""


# --- layers -------------------------------------------------------------------------
# Each layer knows the number it is announced by (EtherType after layer 2, IP
# protocol after IP) and encodes itself around the bytes of the layers inside it.


@attrs.frozen
class Eth:
    dst: bytes
    src: bytes
    ethertype: int | None = None  # None: announce the next layer


@attrs.frozen
class Dot1Q:
    tci: int
    tpid: int = f.TPID_8021Q
    next_type: int | None = None

    @property
    def l2_type(self) -> int:
        return self.tpid


@attrs.frozen
class Label:
    label: int
    bottom: bool
    tc: int = 0
    ttl: int = 64
    ethertype: int = f.ETH_P_MPLS_UC

    @property
    def l2_type(self) -> int:
        return self.ethertype


@attrs.frozen
class ControlWord:
    """4 bytes after the bottom label; its first nibble selects what follows."""

    word: int = 0


@attrs.frozen
class IPv4:
    src: IPv4Address
    dst: IPv4Address
    proto: int | None = None
    ident: int = 0
    ttl: int = 64
    df: bool = False
    mf: bool = False
    frag_offset: int = 0  # 8-byte units
    options: bytes = b""
    ihl: int | None = None
    version: int = 4
    total_length: int | None = None

    l2_type = f.ETH_P_IPV4

    @property
    def header_len(self) -> int:
        return 20 + len(self.options) + (-len(self.options)) % 4

    @property
    def declared_ihl(self) -> int:
        return self.header_len // 4 if self.ihl is None else self.ihl


@attrs.frozen
class IPv6:
    src: IPv6Address
    dst: IPv6Address
    next_header: int | None = None
    hop_limit: int = 64
    flow_label: int = 0
    version: int = 6
    payload_length: int | None = None

    l2_type = f.ETH_P_IPV6


@attrs.frozen
class Options6:
    """Hop-by-hop (0) or destination options (60) header."""

    kind: int
    options: bytes = b""
    next_header: int | None = None
    hdr_ext_len: int | None = None


@attrs.frozen
class Routing6:
    segments: tuple[IPv6Address, ...] = ()
    next_header: int | None = None
    hdr_ext_len: int | None = None
    kind = f.IPPROTO_ROUTING


@attrs.frozen
class Mobility6:
    next_header: int | None = None
    kind = f.IPPROTO_MOBILITY


@attrs.frozen
class AH6:
    spi: int
    seq: int
    icv_len: int = 12
    next_header: int | None = None
    payload_len: int | None = None
    kind = f.IPPROTO_AH


@attrs.frozen
class Fragment6:
    offset: int  # 8-byte units
    more: bool
    ident: int
    next_header: int | None = None
    kind = f.IPPROTO_FRAGMENT


@attrs.frozen
class Tcp:
    sport: int
    dport: int
    seq: int = 0
    ack: int = 0
    flags: int = f.ACK
    window: int = 65535
    options: bytes = b""
    payload: bytes = b""
    proto = f.IPPROTO_TCP


@attrs.frozen
class Udp:
    sport: int
    dport: int
    payload: bytes = b""
    length: int | None = None
    proto = f.IPPROTO_UDP


@attrs.frozen
class UdpLite:
    sport: int
    dport: int
    payload: bytes = b""
    proto = f.IPPROTO_UDPLITE


@attrs.frozen
class Dccp:
    sport: int
    dport: int
    seq: int = 0
    payload: bytes = b""
    proto = f.IPPROTO_DCCP


@attrs.frozen
class Sctp:
    sport: int
    dport: int
    chunks: bytes
    vtag: int = 0
    proto = f.IPPROTO_SCTP


@attrs.frozen
class Icmp:
    icmp_type: int
    code: int
    body: bytes
    proto = f.IPPROTO_ICMP


@attrs.frozen
class Icmp6:
    icmp_type: int
    code: int
    body: bytes
    proto = f.IPPROTO_ICMPV6


@attrs.frozen
class Raw:
    """Opaque bytes.  ports: the pair the bytes start with, when the generator
    put a transport header there (a first fragment); the walk reads no other
    value out of them."""

    data: bytes
    ethertype: int = 0x88B5  # IEEE local experimental
    proto: int = 253  # RFC 3692 experimental
    ports: tuple[int, int] | None = None

    @property
    def l2_type(self) -> int:
        return self.ethertype


Layer = (
    Eth
    | Dot1Q
    | Label
    | ControlWord
    | IPv4
    | IPv6
    | Options6
    | Routing6
    | Mobility6
    | AH6
    | Fragment6
    | Tcp
    | Udp
    | UdpLite
    | Dccp
    | Sctp
    | Icmp
    | Icmp6
    | Raw
)
Ext6 = Options6 | Routing6 | Mobility6 | AH6 | Fragment6
Transport = Tcp | Udp | UdpLite | Dccp | Sctp


def _l2_type(layer: Layer | None) -> int:
    if isinstance(layer, Dot1Q | Label | IPv4 | IPv6 | Raw):
        return layer.l2_type
    raise PlanError(f"{type(layer).__name__} cannot follow a layer 2 header")


def _ip_proto(layer: Layer | None) -> int:
    if layer is None:
        return f.IPPROTO_NONE
    if isinstance(layer, Options6):
        return layer.kind
    if isinstance(layer, Routing6 | Mobility6 | AH6 | Fragment6):
        return layer.kind
    if isinstance(layer, Tcp | Udp | UdpLite | Dccp | Sctp | Icmp | Icmp6 | Raw):
        return layer.proto
    raise PlanError(f"{type(layer).__name__} cannot follow an IP header")


# --- build ------------------------------------------------------------------------------


@attrs.frozen
class Placed:
    """A built layer: where it starts, how long it is, its next-type field."""

    layer: Layer
    offset: int
    length: int
    next_type: int | None


@attrs.frozen
class Built:
    frame: bytes
    placed: tuple[Placed, ...]

    def offset_of(self, kind: type) -> int:
        for p in self.placed:
            if isinstance(p.layer, kind):
                return p.offset
        raise KeyError(kind.__name__)


def build(plan: Sequence[Layer], *, min_len: int = 0) -> Built:
    """The frame's bytes, padded with zeros to min_len, and the placement of each layer."""
    data = b""
    lengths: list[int] = [0] * len(plan)
    types: list[int | None] = [None] * len(plan)
    for i in range(len(plan) - 1, -1, -1):
        layer = plan[i]
        nxt = plan[i + 1] if i + 1 < len(plan) else None
        encoded, types[i] = _encode(layer, data, nxt, _enclosing_ip(plan, i))
        lengths[i] = len(encoded) - len(data)
        data = encoded
    placed = []
    off = 0
    for i, layer in enumerate(plan):
        placed.append(Placed(layer, off, lengths[i], types[i]))
        off += lengths[i]
    if len(data) < min_len:
        filler = bytes(min_len - len(data))
        placed.append(Placed(Raw(filler), len(data), len(filler), None))
        data += filler
    return Built(data, tuple(placed))


def _enclosing_ip(plan: Sequence[Layer], i: int) -> IPv4 | IPv6 | None:
    for j in range(i - 1, -1, -1):
        layer = plan[j]
        if isinstance(layer, IPv4 | IPv6):
            return layer
    return None


def _addresses(ip: IPv4 | IPv6 | None) -> tuple[f.IPAddress, f.IPAddress]:
    if ip is None:
        raise PlanError("a transport header needs an IP header around it")
    return ip.src, ip.dst


def _encode(
    layer: Layer, payload: bytes, nxt: Layer | None, ip: IPv4 | IPv6 | None
) -> tuple[bytes, int | None]:
    """Encodes one layer around payload; returns the bytes and the next-type value written."""
    if isinstance(layer, Eth):
        t = layer.ethertype if layer.ethertype is not None else _l2_type(nxt)
        return f.ethernet(layer.dst, layer.src, t, payload), t
    if isinstance(layer, Dot1Q):
        t = layer.next_type if layer.next_type is not None else _l2_type(nxt)
        return bytes((layer.tci >> 8 & 0xFF, layer.tci & 0xFF, t >> 8, t & 0xFF)) + payload, t
    if isinstance(layer, Label):
        return f.mpls_entry(
            layer.label, tc=layer.tc, bottom=layer.bottom, ttl=layer.ttl
        ) + payload, None
    if isinstance(layer, ControlWord):
        return layer.word.to_bytes(4, "big") + payload, None
    if isinstance(layer, IPv4):
        p = layer.proto if layer.proto is not None else _ip_proto(nxt)
        pkt = f.ipv4(
            layer.src,
            layer.dst,
            p,
            payload,
            ident=layer.ident,
            ttl=layer.ttl,
            df=layer.df,
            mf=layer.mf,
            frag_offset=layer.frag_offset,
            options=layer.options,
            ihl=layer.ihl,
            version=layer.version,
            total_length=layer.total_length,
        )
        return pkt, p
    if isinstance(layer, IPv6):
        nh = layer.next_header if layer.next_header is not None else _ip_proto(nxt)
        pkt = f.ipv6(
            layer.src,
            layer.dst,
            nh,
            payload,
            hop_limit=layer.hop_limit,
            flow_label=layer.flow_label,
            version=layer.version,
            payload_length=layer.payload_length,
        )
        return pkt, nh
    if isinstance(layer, Options6 | Routing6 | Mobility6 | AH6 | Fragment6):
        nh = layer.next_header if layer.next_header is not None else _ip_proto(nxt)
        return _encode_ext(layer, nh) + payload, nh
    return _encode_upper(layer, payload, ip), None


def _encode_ext(layer: Ext6, nh: int) -> bytes:
    if isinstance(layer, Options6):
        return f.ipv6_hop_by_hop(nh, layer.options, hdr_ext_len=layer.hdr_ext_len)
    if isinstance(layer, Routing6):
        return f.ipv6_routing(nh, layer.segments, hdr_ext_len=layer.hdr_ext_len)
    if isinstance(layer, Mobility6):
        return f.ipv6_mobility(nh)
    if isinstance(layer, AH6):
        return f.ipv6_ah(
            nh,
            spi=layer.spi,
            seq=layer.seq,
            icv=bytes(layer.icv_len),
            payload_len=layer.payload_len,
        )
    return f.ipv6_fragment(nh, layer.offset, more=layer.more, ident=layer.ident)


def _encode_upper(layer: Layer, payload: bytes, ip: IPv4 | IPv6 | None) -> bytes:
    if payload:
        raise PlanError(f"nothing can follow {type(layer).__name__} in a plan")
    if isinstance(layer, Raw):
        return layer.data
    if isinstance(layer, Tcp):
        src, dst = _addresses(ip)
        return f.tcp(
            src,
            dst,
            layer.sport,
            layer.dport,
            seq=layer.seq,
            ack=layer.ack,
            flags=layer.flags,
            window=layer.window,
            options=layer.options,
            payload=layer.payload,
        )
    if isinstance(layer, Udp):
        src, dst = _addresses(ip)
        return f.udp(src, dst, layer.sport, layer.dport, layer.payload, length=layer.length)
    if isinstance(layer, UdpLite):
        src, dst = _addresses(ip)
        return f.udplite(src, dst, layer.sport, layer.dport, layer.payload)
    if isinstance(layer, Dccp):
        src, dst = _addresses(ip)
        return f.dccp(src, dst, layer.sport, layer.dport, seq=layer.seq, payload=layer.payload)
    if isinstance(layer, Sctp):
        return f.sctp(layer.sport, layer.dport, layer.chunks, vtag=layer.vtag)
    if isinstance(layer, Icmp):
        return f.icmp(layer.icmp_type, layer.code, layer.body)
    if isinstance(layer, Icmp6):
        src, dst = _addresses(ip)
        if not isinstance(src, IPv6Address) or not isinstance(dst, IPv6Address):
            raise PlanError("ICMPv6 needs an IPv6 header")
        return f.icmpv6(src, dst, layer.icmp_type, layer.code, layer.body)
    raise PlanError(f"{type(layer).__name__} is not a leaf layer")


# --- walk -------------------------------------------------------------------------------


@attrs.define
class Trail:
    """Keys found along the walk, each with its requirement (see module doc)."""

    keys: list[tuple[int, Key]] = attrs.field(factory=list)
    protos: list[tuple[int, int]] = attrs.field(factory=list)
    outer_tag: f.Tag | None = None
    captured_len: int = 0  # of the whole frame as captured (outer tag removed)
    _last: int = 0

    def _check(self, req: int) -> None:
        if req < self._last:
            raise PlanError(f"requirement went backwards ({req} < {self._last})")
        self._last = req

    def add(self, req: int, kind: KeyType, value: int) -> None:
        self._check(req)
        self.keys.append((req, (kind, value)))

    def proto(self, req: int, value: int) -> None:
        self._check(req)
        self.protos.append((req, value))

    def keys_at(self, caplen: int | None = None) -> frozenset[Key]:
        """The keys of the frame captured with caplen bytes (default: whole)."""
        if caplen is None:
            caplen = self.captured_len
        found = {k for req, k in self.keys if req <= caplen}
        proto = None
        for req, value in self.protos:
            if req <= caplen:
                proto = value
        if proto is not None:
            found.add((KeyType.PROTO, proto))
        return frozenset(found)


class _Walk:
    """One walk over a built frame in its captured view."""

    def __init__(self, built: Built, strip: bool) -> None:
        placed = list(built.placed)
        self.trail = Trail()
        frame_len = len(built.frame)
        if (
            strip
            and len(placed) > 2
            and isinstance(placed[0].layer, Eth)
            and isinstance(placed[1].layer, Dot1Q)
            and placed[1].layer.tpid in f.KERNEL_STRIPPED_TPIDS
        ):
            tag = placed[1].layer
            self.trail.outer_tag = f.Tag(tag.tci, tag.tpid)
            self.trail.add(0, KeyType.VLAN, tag.tci & 0x0FFF)
            eth = attrs.evolve(placed[0], next_type=placed[1].next_type)
            placed = [eth] + [attrs.evolve(p, offset=p.offset - 4) for p in placed[2:]]
            frame_len -= 4
        self.trail.captured_len = frame_len
        self.frame_len = frame_len
        self.by_offset: dict[int, Placed] = {}
        for p in placed:
            self.by_offset.setdefault(p.offset, p)
        self.tags = 0
        self.labels = 0
        self.inner = 0

    def at(self, pos: int) -> Placed | None:
        """The layer that starts at pos; None when pos is past the frame's end
        (every read there fails, so the walk stops)."""
        if pos >= self.frame_len:
            return None
        p = self.by_offset.get(pos)
        if p is None:
            raise PlanError(f"the walk reads at offset {pos}, inside a layer")
        return p

    def ethernet(self, pos: int) -> None:
        eth = self.at(pos)
        if eth is None:
            return
        if not isinstance(eth.layer, Eth) or eth.next_type is None:
            raise PlanError("expected an Ethernet header")
        ethertype = eth.next_type
        pos += f.ETH_HEADER_LEN
        while True:
            if ethertype in f.VLAN_TPIDS:
                if self.tags == MAX_TAGS:
                    return
                tag = self.at(pos)
                if tag is None:
                    return
                if not isinstance(tag.layer, Dot1Q) or tag.next_type is None:
                    raise PlanError("expected a VLAN tag")
                self.tags += 1
                self.trail.add(pos + 4, KeyType.VLAN, tag.layer.tci & 0x0FFF)
                ethertype = tag.next_type
                pos += 4
            elif ethertype in f.MPLS_ETHERTYPES:
                self.mpls(pos)
                return
            elif ethertype == f.ETH_P_IPV4:
                self.ipv4(pos)
                return
            elif ethertype == f.ETH_P_IPV6:
                self.ipv6(pos)
                return
            else:
                return

    def mpls(self, pos: int) -> None:
        while True:
            if self.labels == MAX_LABELS:
                return
            entry = self.at(pos)
            if entry is None:
                return
            if not isinstance(entry.layer, Label):
                raise PlanError("expected an MPLS label entry")
            self.labels += 1
            self.trail.add(pos + 4, KeyType.MPLS, entry.layer.label & 0xFFFFF)
            pos += 4
            if entry.layer.bottom:
                break
        after = self.at(pos)
        if after is None:
            return
        nibble = _first_nibble(after.layer)
        if nibble == 4:
            self.ipv4(pos)
        elif nibble == 6:
            self.ipv6(pos)
        elif nibble == 0:
            if not isinstance(after.layer, ControlWord):
                raise PlanError("a first nibble of 0 must be a control word in a plan")
            if self.inner == MAX_INNER_FRAMES:
                return
            self.inner += 1
            self.ethernet(pos + 4)

    def _ip_layer(self, pos: int, need: int, cls: type[IPv4] | type[IPv6]) -> Placed | None:
        p = self.at(pos)
        if p is None:
            return None
        if not isinstance(p.layer, cls):
            if pos + need > self.frame_len:
                return None  # too short to be read as IP: the walk stops
            raise PlanError(f"{type(p.layer).__name__} where the walk reads an IP header")
        return p

    def ipv4(self, pos: int) -> None:
        p = self._ip_layer(pos, 20, IPv4)
        if p is None or not isinstance(p.layer, IPv4) or p.layer.version != 4:
            return
        ip = p.layer
        self.trail.add(pos + 20, KeyType.IPV4, int(ip.src))
        self.trail.add(pos + 20, KeyType.IPV4, int(ip.dst))
        ihl = ip.declared_ihl & 0xF
        if ihl * 4 < 20:
            return
        assert p.next_type is not None
        self.trail.proto(pos + 20, p.next_type)
        if ip.frag_offset & 0x1FFF:
            return
        self.ports(pos + ihl * 4, p.next_type)

    def ipv6(self, pos: int) -> None:
        p = self._ip_layer(pos, 40, IPv6)
        if p is None or not isinstance(p.layer, IPv6) or p.layer.version != 6:
            return
        ip = p.layer
        self.trail.add(pos + 40, KeyType.IPV6, int(ip.src))
        self.trail.add(pos + 40, KeyType.IPV6, int(ip.dst))
        assert p.next_type is not None
        nh = p.next_type
        self.trail.proto(pos + 40, nh)
        pos += 40
        count = 0
        while nh in EXT_HEADERS:
            if count == MAX_EXT_HEADERS:
                return
            ext = self.at(pos)
            if ext is None:
                return
            layer = ext.layer
            if (
                not isinstance(layer, Options6 | Routing6 | Mobility6 | AH6 | Fragment6)
                or layer.kind != nh
            ):
                raise PlanError(f"next header {nh} announces a different layer")
            assert ext.next_type is not None
            count += 1
            if isinstance(layer, Fragment6):
                self.trail.proto(pos + 8, ext.next_type)
                if layer.offset & 0x1FFF:
                    return
                pos += 8
            else:
                self.trail.proto(pos + 2, ext.next_type)
                pos += _declared_ext_len(layer, ext.length)
            nh = ext.next_type
        self.ports(pos, nh)

    def ports(self, pos: int, proto: int) -> None:
        if proto not in PORT_PROTOS:
            return
        t = self.at(pos)
        if t is None:
            return
        layer = t.layer
        if isinstance(layer, Tcp | Udp | UdpLite | Dccp | Sctp):
            pair: tuple[int, int] | None = (layer.sport, layer.dport)
        elif isinstance(layer, Raw):
            pair = layer.ports
            if pair is None:
                if pos + 4 > self.frame_len:
                    return
                raise PlanError("a port protocol over opaque bytes")
        else:
            raise PlanError(f"ports read out of {type(layer).__name__}")
        assert pair is not None
        self.trail.add(pos + 4, KeyType.PORT, pair[0])
        self.trail.add(pos + 4, KeyType.PORT, pair[1])


def _first_nibble(layer: Layer) -> int:
    if isinstance(layer, IPv4 | IPv6):
        return layer.version & 0xF
    if isinstance(layer, ControlWord):
        return layer.word >> 28 & 0xF
    if isinstance(layer, Raw):
        return layer.data[0] >> 4 if layer.data else -1
    if isinstance(layer, Label):
        return layer.label >> 16 & 0xF
    raise PlanError(f"the walk reads a nibble out of {type(layer).__name__}")


def _declared_ext_len(layer: Ext6, emitted: int) -> int:
    """Length the contract derives from byte 1 of an extension header."""
    if isinstance(layer, AH6):
        field = (
            layer.payload_len if layer.payload_len is not None else (12 + layer.icv_len) // 4 - 2
        )
        return ((field & 0xFF) + 2) * 4
    if isinstance(layer, Options6 | Routing6) and layer.hdr_ext_len is not None:
        return ((layer.hdr_ext_len & 0xFF) + 1) * 8
    return emitted  # builders write the length they emit


def walk(built: Built, *, strip: bool = True) -> Trail:
    """The trail of keys of a built frame as the capture side sees it: with
    strip, a kernel-strippable outer tag is removed and reported (step 1)."""
    w = _Walk(built, strip)
    w.ethernet(0)
    return w.trail
