"""Frame builders: the bytes of Ethernet, tags, MPLS, IP and transport headers.

Pure functions, no I/O.  They compose from the inside out: a transport builder
takes the addresses of the IP header that will carry it (its checksum covers a
pseudo header), an IP builder takes its payload, an Ethernet builder takes the
packet and the tags to put in front of it::

    seg = tcp(src, dst, 40000, 443, flags=ACK, payload=b"hello")
    frame = ethernet(dst_mac, src_mac, ETH_P_IPV4, ipv4(src, dst, IPPROTO_TCP, seg),
                     tags=(Tag(vlan_tci(10)),))

Lengths and checksums are computed unless a keyword overrides them: the
hostile traffic of the generator lies in exactly those fields on purpose.

Checksums use one fact: 2**16 is 1 modulo 0xffff, so the one's complement sum
of a byte string's 16-bit words is the string read as one big integer, modulo
0xffff (0 read as 0xffff for non-zero data).  ``int.from_bytes`` does that in C.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address

import attrs

IPAddress = IPv4Address | IPv6Address

# EtherTypes.
ETH_P_IPV4 = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ETH_P_MPLS_UC = 0x8847
ETH_P_MPLS_MC = 0x8848
ETH_P_LLDP = 0x88CC
TPID_8021Q = 0x8100
TPID_8021AD = 0x88A8
TPID_QINQ_9100 = 0x9100
TPID_QINQ_9200 = 0x9200
TPID_QINQ_9300 = 0x9300
VLAN_TPIDS = frozenset({TPID_8021Q, TPID_8021AD, TPID_QINQ_9100, TPID_QINQ_9200, TPID_QINQ_9300})
MPLS_ETHERTYPES = frozenset({ETH_P_MPLS_UC, ETH_P_MPLS_MC})
# The tags a Linux receiver removes from the frame and reports in tp_vlan_tci.
KERNEL_STRIPPED_TPIDS = frozenset({TPID_8021Q, TPID_8021AD})

# IP protocol numbers / IPv6 next headers.
IPPROTO_HOPOPTS = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_DCCP = 33
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_GRE = 47
IPPROTO_ESP = 50
IPPROTO_AH = 51
IPPROTO_ICMPV6 = 58
IPPROTO_NONE = 59
IPPROTO_DSTOPTS = 60
IPPROTO_SCTP = 132
IPPROTO_MOBILITY = 135
IPPROTO_UDPLITE = 136

# TCP flags.
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10

ETH_HEADER_LEN = 14
ETH_MIN_FRAME = 60  # without the FCS, which the NIC adds

_U16 = struct.Struct(">H")


@attrs.frozen
class Tag:
    """An 802.1Q/802.1ad tag: the TPID in front of it and its TCI."""

    tci: int
    tpid: int = TPID_8021Q

    @property
    def vid(self) -> int:
        return self.tci & 0x0FFF


def vlan_tci(vid: int, *, pcp: int = 0, dei: bool = False) -> int:
    """The TCI of a tag: priority (3 bits), drop eligible (1 bit), VLAN id (12 bits)."""
    return (pcp & 7) << 13 | int(dei) << 12 | (vid & 0x0FFF)


def mac(text: str) -> bytes:
    """``"02:00:00:00:00:01"`` → 6 bytes."""
    raw = bytes.fromhex(text.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {text!r}")
    return raw


# --- checksums ----------------------------------------------------------------


def ones_sum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """The one's complement sum of data's 16-bit big-endian words plus initial,
    as an integer modulo 0xffff (callers add more and fold with checksum_of)."""
    value = int.from_bytes(data, "big")
    if len(data) % 2:
        value <<= 8
    return (value + initial) % 0xFFFF


def checksum_of(total: int) -> int:
    """The Internet checksum field for a sum from ones_sum (never all data zero here)."""
    folded = total % 0xFFFF or 0xFFFF
    return 0xFFFF - folded


def checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """RFC 1071 Internet checksum of data (plus a pre-summed pseudo header)."""
    return checksum_of(ones_sum(data, initial))


def pseudo_header_sum(src: IPAddress, dst: IPAddress, proto: int, length: int) -> int:
    """Sum of the IPv4 (RFC 793) or IPv6 (RFC 8200 §8.1) pseudo header."""
    return ones_sum(src.packed + dst.packed, proto + (length >> 16) + (length & 0xFFFF))


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC32C = _crc32c_table()


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC-32C (Castagnoli), the SCTP checksum (RFC 9260 appendix B)."""
    crc = 0xFFFFFFFF
    table = _CRC32C
    for b in bytes(data):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# --- layer 2 --------------------------------------------------------------------


def ethernet(
    dst: bytes, src: bytes, ethertype: int, payload: bytes = b"", *, tags: Sequence[Tag] = ()
) -> bytes:
    """An Ethernet II frame (no FCS); tags[0] is the outermost tag."""
    if len(dst) != 6 or len(src) != 6:
        raise ValueError("MAC addresses are 6 bytes")
    parts = [dst, src]
    for tag in tags:
        parts.append(struct.pack(">HH", tag.tpid, tag.tci))
    parts.append(_U16.pack(ethertype))
    parts.append(payload)
    return b"".join(parts)


def mpls_entry(label: int, *, tc: int = 0, bottom: bool = False, ttl: int = 64) -> bytes:
    """One 4-byte MPLS label stack entry (label 20 bits, TC 3, S 1, TTL 8)."""
    return struct.pack(">I", (label & 0xFFFFF) << 12 | (tc & 7) << 9 | int(bottom) << 8 | ttl)


def mpls(
    labels: Sequence[int], payload: bytes, *, tc: int = 0, ttl: int = 64, bottom: bool = True
) -> bytes:
    """A label stack (labels[0] outermost) in front of payload; with bottom, the
    last entry carries the bottom-of-stack bit."""
    n = len(labels)
    entries = [
        mpls_entry(lab, tc=tc, bottom=bottom and i == n - 1, ttl=ttl)
        for i, lab in enumerate(labels)
    ]
    return b"".join(entries) + payload


def pw_control_word(sequence: int = 0, *, flags: int = 0) -> bytes:
    """The RFC 4385 pseudowire control word: first nibble 0, flags, sequence."""
    return struct.pack(">HH", flags & 0x0FFF, sequence & 0xFFFF)


def strip_outer_tag(frame: bytes) -> tuple[bytes, Tag | None]:
    """What a Linux receiver does to a frame whose outer tag is 802.1Q or
    802.1ad: removes the tag (the MAC addresses move up 4 bytes) and reports
    it beside the frame.  Other frames come back unchanged, with None."""
    if len(frame) >= 18:
        tpid = int.from_bytes(frame[12:14], "big")
        if tpid in KERNEL_STRIPPED_TPIDS:
            return frame[:12] + frame[16:], Tag(int.from_bytes(frame[14:16], "big"), tpid)
    return frame, None


def insert_outer_tag(frame: bytes, tag: Tag) -> bytes:
    """The inverse of strip_outer_tag: the tag put back after the MAC addresses."""
    return frame[:12] + struct.pack(">HH", tag.tpid, tag.tci) + frame[12:]


def pad(frame: bytes, size: int = ETH_MIN_FRAME, fill: int = 0) -> bytes:
    """frame padded with fill bytes up to size (unchanged if already as long)."""
    if len(frame) >= size:
        return frame
    return frame + bytes([fill]) * (size - len(frame))


# --- IPv4 -----------------------------------------------------------------------


def ipv4_option_nop() -> bytes:
    return b"\x01"


def ipv4_option_router_alert() -> bytes:
    return b"\x94\x04\x00\x00"


def ipv4_option_record_route(slots: int = 2) -> bytes:
    """Record Route with room for slots addresses, none recorded yet."""
    return bytes([7, 3 + 4 * slots, 4]) + bytes(4 * slots)


def ipv4(
    src: IPv4Address,
    dst: IPv4Address,
    proto: int,
    payload: bytes,
    *,
    ident: int = 0,
    ttl: int = 64,
    tos: int = 0,
    df: bool = False,
    mf: bool = False,
    frag_offset: int = 0,
    options: bytes = b"",
    ihl: int | None = None,
    total_length: int | None = None,
    version: int = 4,
    header_checksum: int | None = None,
) -> bytes:
    """An IPv4 packet.  options are padded with EOL to a multiple of 4 bytes;
    frag_offset is in 8-byte units, as in the header."""
    if len(options) % 4:
        options += bytes(4 - len(options) % 4)
    hlen = 20 + len(options)
    if ihl is None:
        ihl = hlen // 4
    if total_length is None:
        total_length = hlen + len(payload)
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_offset & 0x1FFF)
    header = bytearray(
        struct.pack(
            ">BBHHHBBH4s4s",
            (version & 0xF) << 4 | (ihl & 0xF),
            tos,
            total_length & 0xFFFF,
            ident & 0xFFFF,
            flags,
            ttl,
            proto,
            0,
            src.packed,
            dst.packed,
        )
    )
    header += options
    if header_checksum is None:
        header_checksum = checksum(header)
    _U16.pack_into(header, 10, header_checksum)
    return bytes(header) + payload


# --- IPv6 -----------------------------------------------------------------------


def ipv6(
    src: IPv6Address,
    dst: IPv6Address,
    next_header: int,
    payload: bytes,
    *,
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
    payload_length: int | None = None,
    version: int = 6,
) -> bytes:
    """An IPv6 packet; payload starts with the extension headers, if any."""
    if payload_length is None:
        payload_length = len(payload)
    first = (version & 0xF) << 28 | (traffic_class & 0xFF) << 20 | (flow_label & 0xFFFFF)
    return (
        struct.pack(">IHBB", first, payload_length & 0xFFFF, next_header, hop_limit)
        + src.packed
        + dst.packed
        + payload
    )


def _options_area(options: bytes, hdr_ext_len: int | None) -> tuple[bytes, int]:
    """Options padded (Pad1/PadN) so the header is a multiple of 8 bytes."""
    room = (-(2 + len(options))) % 8
    if room == 1:
        options += b"\x00"
    elif room:
        options += bytes([1, room - 2]) + bytes(room - 2)
    if hdr_ext_len is None:
        hdr_ext_len = (2 + len(options)) // 8 - 1
    return options, hdr_ext_len


def ipv6_hop_by_hop(
    next_header: int, options: bytes = b"", *, hdr_ext_len: int | None = None
) -> bytes:
    """Hop-by-hop options header (padded to 8n bytes)."""
    body, length = _options_area(options, hdr_ext_len)
    return bytes([next_header, length & 0xFF]) + body


def ipv6_dest_opts(
    next_header: int, options: bytes = b"", *, hdr_ext_len: int | None = None
) -> bytes:
    """Destination options header (padded to 8n bytes)."""
    return ipv6_hop_by_hop(next_header, options, hdr_ext_len=hdr_ext_len)


def ipv6_option_router_alert(value: int = 0) -> bytes:
    return struct.pack(">BBH", 5, 2, value)


def ipv6_routing(
    next_header: int,
    segments: Sequence[IPv6Address],
    *,
    segments_left: int = 0,
    hdr_ext_len: int | None = None,
) -> bytes:
    """A segment routing header (routing type 4, RFC 8754) listing segments."""
    if hdr_ext_len is None:
        hdr_ext_len = 2 * len(segments)
    last_entry = max(len(segments) - 1, 0)
    head = struct.pack(
        ">BBBBBBH", next_header, hdr_ext_len & 0xFF, 4, segments_left, last_entry, 0, 0
    )
    return head + b"".join(s.packed for s in segments)


def ipv6_fragment(next_header: int, offset: int, *, more: bool, ident: int) -> bytes:
    """Fragment header; offset in 8-byte units, as in the header."""
    return struct.pack(">BBHI", next_header, 0, (offset & 0x1FFF) << 3 | int(more), ident)


def ipv6_ah(
    next_header: int, *, spi: int, seq: int, icv: bytes = bytes(12), payload_len: int | None = None
) -> bytes:
    """Authentication header (RFC 4302): its length field counts 4-byte words minus 2."""
    if payload_len is None:
        payload_len = (12 + len(icv)) // 4 - 2
    return struct.pack(">BBHII", next_header, payload_len & 0xFF, 0, spi, seq) + icv


def ipv6_mobility(
    next_header: int = IPPROTO_NONE, *, mh_type: int = 0, body: bytes = bytes(6)
) -> bytes:
    """A Mobility header (RFC 6275); body padded so the header is 8n bytes."""
    raw = bytes([next_header, 0, mh_type, 0, 0, 0]) + body
    raw += bytes((-len(raw)) % 8)
    raw = raw[:1] + bytes([len(raw) // 8 - 1]) + raw[2:]
    return raw


# --- transports -------------------------------------------------------------------


def tcp_option_mss(mss: int) -> bytes:
    return struct.pack(">BBH", 2, 4, mss)


def tcp_option_timestamps(tsval: int, tsecr: int) -> bytes:
    """NOP, NOP, Timestamps: TSval starts 4 bytes into the result."""
    return struct.pack(">BBBBII", 1, 1, 8, 10, tsval & 0xFFFFFFFF, tsecr & 0xFFFFFFFF)


def tcp(
    src: IPAddress,
    dst: IPAddress,
    sport: int,
    dport: int,
    *,
    seq: int = 0,
    ack: int = 0,
    flags: int = ACK,
    window: int = 65535,
    options: bytes = b"",
    payload: bytes = b"",
    urgent: int = 0,
) -> bytes:
    """A TCP segment with a correct checksum; options padded with NOPs to 4n bytes."""
    if len(options) % 4:
        options += b"\x01" * (4 - len(options) % 4)
    offset = (20 + len(options)) // 4
    seg = bytearray(
        struct.pack(
            ">HHIIBBHHH",
            sport,
            dport,
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF,
            offset << 4,
            flags,
            window,
            0,
            urgent,
        )
    )
    seg += options
    seg += payload
    _U16.pack_into(seg, 16, checksum(seg, pseudo_header_sum(src, dst, IPPROTO_TCP, len(seg))))
    return bytes(seg)


def udp(
    src: IPAddress,
    dst: IPAddress,
    sport: int,
    dport: int,
    payload: bytes,
    *,
    length: int | None = None,
    with_checksum: bool = True,
) -> bytes:
    """A UDP datagram.  Its checksum covers the real bytes even if length lies."""
    real = 8 + len(payload)
    seg = bytearray(struct.pack(">HHHH", sport, dport, (real if length is None else length), 0))
    seg += payload
    if with_checksum:
        value = checksum(seg, pseudo_header_sum(src, dst, IPPROTO_UDP, real)) or 0xFFFF
        _U16.pack_into(seg, 6, value)
    return bytes(seg)


def udplite(
    src: IPAddress, dst: IPAddress, sport: int, dport: int, payload: bytes, *, coverage: int = 8
) -> bytes:
    """A UDP-Lite datagram (RFC 3828) whose checksum covers its first coverage bytes."""
    seg = bytearray(struct.pack(">HHHH", sport, dport, coverage, 0))
    seg += payload
    cov = len(seg) if coverage == 0 else min(coverage, len(seg))
    value = checksum(seg[:cov], pseudo_header_sum(src, dst, IPPROTO_UDPLITE, len(seg))) or 0xFFFF
    _U16.pack_into(seg, 6, value)
    return bytes(seg)


def dccp(
    src: IPAddress, dst: IPAddress, sport: int, dport: int, *, seq: int = 0, payload: bytes = b""
) -> bytes:
    """A DCCP-Data packet with a 48-bit sequence number (RFC 4340 §5.1, X=1)."""
    head = bytearray(struct.pack(">HHBBHBBH", sport, dport, 4, 0, 0, 2 << 1 | 1, 0, seq >> 32))
    head += struct.pack(">I", seq & 0xFFFFFFFF)
    head += payload
    _U16.pack_into(head, 6, checksum(head, pseudo_header_sum(src, dst, IPPROTO_DCCP, len(head))))
    return bytes(head)


def sctp_data_chunk(
    tsn: int, data: bytes, *, stream: int = 0, ssn: int = 0, ppid: int = 0, flags: int = 3
) -> bytes:
    """An SCTP DATA chunk (padded to 4n bytes); flags 3 = beginning and end."""
    chunk = struct.pack(">BBHIHHI", 0, flags, 16 + len(data), tsn, stream, ssn, ppid) + data
    return chunk + bytes((-len(chunk)) % 4)


def sctp(sport: int, dport: int, chunks: bytes, *, vtag: int = 0) -> bytes:
    """An SCTP packet with its CRC-32C checksum (stored little-endian, RFC 9260)."""
    pkt = bytearray(struct.pack(">HHII", sport, dport, vtag, 0))
    pkt += chunks
    struct.pack_into("<I", pkt, 8, crc32c(pkt))
    return bytes(pkt)


def icmp(icmp_type: int, code: int, body: bytes) -> bytes:
    """An ICMP message: type, code, checksum, then body (rest of header + data)."""
    msg = bytearray(bytes([icmp_type, code, 0, 0]) + body)
    _U16.pack_into(msg, 2, checksum(msg))
    return bytes(msg)


def icmp_echo(ident: int, seq: int, payload: bytes, *, reply: bool = False) -> bytes:
    return icmp(0 if reply else 8, 0, struct.pack(">HH", ident, seq) + payload)


def icmpv6(src: IPv6Address, dst: IPv6Address, icmp_type: int, code: int, body: bytes) -> bytes:
    """An ICMPv6 message; its checksum covers the IPv6 pseudo header."""
    msg = bytearray(bytes([icmp_type, code, 0, 0]) + body)
    _U16.pack_into(msg, 2, checksum(msg, pseudo_header_sum(src, dst, IPPROTO_ICMPV6, len(msg))))
    return bytes(msg)


def icmpv6_echo(
    src: IPv6Address, dst: IPv6Address, ident: int, seq: int, payload: bytes, *, reply: bool = False
) -> bytes:
    return icmpv6(src, dst, 129 if reply else 128, 0, struct.pack(">HH", ident, seq) + payload)
