"""keys.c against docs/index-keys.md: one test per rule, then the oracle on everything.

``tests/support/keywalk.py`` is the page transcribed as naive Python; the
rule tests below pin the page's statements with literal expectations (so the
oracle itself is checked), and the property tests compare C and oracle on
truncated and random frames.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz.make_seeds import frame_seeds, upstream_seeds
from steno.native.index import FrameKeys, frame_keys
from tests.support import frames as F
from tests.support.keywalk import expected_keys

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
VLAN_VALID = 0x10


def keys(frame: bytes, **kw: int) -> FrameKeys:
    got = frame_keys(frame, **kw)
    assert got == expected_keys(frame, **kw), "C walk and oracle disagree"
    return got


def tcp4(src: str = "10.0.0.1", dst: str = "10.0.0.2", sport: int = 1234, dport: int = 80) -> bytes:
    return F.ipv4(src, dst, 6, F.tcp(sport, dport))


TCP4_KEYS = FrameKeys(proto=(6,), ports=(80, 1234), ipv4=(V4("10.0.0.1"), V4("10.0.0.2")))


# -- upstream's fuzz seeds (reference §9.5) ------------------------------------


def test_upstream_seed_ip4_udp() -> None:
    assert keys(upstream_seeds()["ip4_udp"]) == FrameKeys(
        proto=(17,), ports=(53, 42600), ipv4=(V4("8.8.8.8"), V4("172.31.112.32"))
    )


def test_upstream_seed_ip6_tcp() -> None:
    assert keys(upstream_seeds()["ip6_tcp"]) == FrameKeys(
        proto=(6,),
        ports=(443, 60764),
        ipv6=(V6("2001:418:1401:5e::11"), V6("2620:0:1000:5c7e:cc39:fc4b:3705:3841")),
    )


def test_upstream_seed_mpls_qinq() -> None:
    assert keys(upstream_seeds()["mpls_qinq"]) == FrameKeys(
        proto=(1,), vlans=(1,), ipv4=(V4("192.168.1.1"), V4("192.168.1.2")), mpls=(16, 19)
    )


# -- step 1: the stripped outer tag ---------------------------------------------


def test_stripped_tag_is_a_vlan_key() -> None:
    frame = F.ethernet(F.ETH_IPV4) + tcp4()
    got = keys(frame, tp_status=VLAN_VALID, vlan_tci=(5 << 13) | 42)  # PCP bits dropped
    assert got.vlans == (42,)
    assert got.ports == (80, 1234)


def test_tci_without_status_bit_is_ignored() -> None:
    assert keys(F.ethernet(F.ETH_IPV4) + tcp4(), vlan_tci=42).vlans == ()


def test_stripped_tag_zero_is_vlan_zero() -> None:
    assert keys(F.ethernet(F.ETH_IPV4) + tcp4(), tp_status=VLAN_VALID).vlans == (0,)


def test_stripped_tag_on_a_runt_frame() -> None:
    assert keys(b"\x00" * 5, tp_status=VLAN_VALID, vlan_tci=9) == FrameKeys(vlans=(9,))


# -- step 2: Ethernet -------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 13])
def test_short_ethernet_has_no_keys(length: int) -> None:
    assert keys(bytes(length)) == FrameKeys()


def test_other_ethertype_has_no_keys() -> None:
    assert keys(F.ethernet(F.ETH_ARP) + b"\x00" * 28) == FrameKeys()


def test_ieee_802_3_length_field_has_no_keys() -> None:
    assert keys(F.ethernet(0x05DC) + tcp4()) == FrameKeys()


# -- step 3: tags and labels ------------------------------------------------------


@pytest.mark.parametrize("tpid", [0x8100, 0x88A8, 0x9100, 0x9200, 0x9300])
def test_every_tag_type(tpid: int) -> None:
    got = keys(F.ethernet(tpid) + F.vlan(300, F.ETH_IPV4, pcp=7) + tcp4())
    assert got == FrameKeys(vlans=(300,), proto=(6,), ports=(80, 1234), ipv4=TCP4_KEYS.ipv4)


def test_qinq_and_stripped_tag_together() -> None:
    frame = F.ethernet(F.ETH_8021AD) + F.vlan(20, F.ETH_8021Q) + F.vlan(30, F.ETH_IPV4) + tcp4()
    assert keys(frame, tp_status=VLAN_VALID, vlan_tci=10).vlans == (10, 20, 30)


def test_repeated_vlan_is_one_key() -> None:
    frame = F.ethernet(F.ETH_8021Q) + F.vlan(7, F.ETH_8021Q) + F.vlan(7, F.ETH_IPV4) + tcp4()
    assert keys(frame, tp_status=VLAN_VALID, vlan_tci=7).vlans == (7,)


def tags(n: int) -> bytes:
    """n stacked tags (ids 1..n) in front of an IPv4/TCP packet."""
    out = F.ethernet(F.ETH_8021Q)
    for i in range(1, n + 1):
        out += F.vlan(i, F.ETH_8021Q if i < n else F.ETH_IPV4)
    return out + tcp4()


def test_sixteen_tags_are_followed() -> None:
    got = keys(tags(16), tp_status=VLAN_VALID, vlan_tci=100)
    assert got.vlans == (*range(1, 17), 100)
    assert got.ports == (80, 1234)


def test_seventeenth_tag_stops_the_walk() -> None:
    got = keys(tags(17))
    assert got == FrameKeys(vlans=tuple(range(1, 17)))


def test_mpls_stack_then_ipv4() -> None:
    frame = F.ethernet(F.ETH_MPLS) + F.mpls([100, 200, 0xFFFFF]) + tcp4()
    assert keys(frame) == FrameKeys(
        mpls=(100, 200, 0xFFFFF), proto=(6,), ports=(80, 1234), ipv4=TCP4_KEYS.ipv4
    )


def test_mpls_multicast_then_ipv6() -> None:
    frame = F.ethernet(F.ETH_MPLS_MC) + F.mpls([5]) + F.ipv6("::1", "::2", 17, F.udp(1, 2))
    assert keys(frame) == FrameKeys(
        mpls=(5,), proto=(17,), ports=(1, 2), ipv6=(V6("::1"), V6("::2"))
    )


def test_mpls_pseudowire_inner_ethernet_with_tags() -> None:
    inner = F.ethernet(F.ETH_8021Q) + F.vlan(55, F.ETH_IPV4) + tcp4()
    frame = F.ethernet(F.ETH_8021Q) + F.vlan(9, F.ETH_MPLS) + F.mpls([77]) + F.pw_control_word()
    assert keys(frame + inner) == FrameKeys(
        vlans=(9, 55), mpls=(77,), proto=(6,), ports=(80, 1234), ipv4=TCP4_KEYS.ipv4
    )


@pytest.mark.parametrize("nibble", [1, 2, 3, 5, 7, 15])
def test_mpls_unknown_payload_stops(nibble: int) -> None:
    frame = F.ethernet(F.ETH_MPLS) + F.mpls([8, 9]) + bytes([nibble << 4]) + b"\x00" * 40
    assert keys(frame) == FrameKeys(mpls=(8, 9))


def test_mpls_without_bottom_of_stack_keeps_labels() -> None:
    frame = F.ethernet(F.ETH_MPLS) + struct.pack("!II", (1 << 12) | 64, (2 << 12) | 64)
    assert keys(frame) == FrameKeys(mpls=(1, 2))


def test_sixteen_labels_are_followed_seventeenth_stops() -> None:
    ok = F.ethernet(F.ETH_MPLS) + F.mpls(list(range(1, 17))) + tcp4()
    assert keys(ok).mpls == tuple(range(1, 17))
    assert keys(ok).ports == (80, 1234)
    over = F.ethernet(F.ETH_MPLS) + F.mpls(list(range(1, 18))) + tcp4()
    assert keys(over) == FrameKeys(mpls=tuple(range(1, 17)))


def test_labels_count_over_the_whole_walk() -> None:
    """Labels in an inner frame share the limit with the outer ones."""
    inner = F.ethernet(F.ETH_MPLS) + F.mpls(list(range(11, 21))) + tcp4()
    frame = F.ethernet(F.ETH_MPLS) + F.mpls(list(range(1, 11))) + F.pw_control_word() + inner
    assert keys(frame) == FrameKeys(mpls=tuple(range(1, 17)))


def pseudowires(n: int) -> bytes:
    frame = F.ethernet(F.ETH_MPLS)
    for i in range(n):
        frame += F.mpls([i + 1]) + F.pw_control_word() + F.ethernet(F.ETH_MPLS)
    return frame[:-2] + struct.pack("!H", F.ETH_IPV4) + tcp4()


def test_four_inner_frames_are_followed_fifth_stops() -> None:
    assert keys(pseudowires(4)).ports == (80, 1234)
    got = keys(pseudowires(5))
    assert got == FrameKeys(mpls=(1, 2, 3, 4, 5))


# -- step 4: IPv4 -----------------------------------------------------------------


def test_ipv4_tcp() -> None:
    assert keys(F.ethernet(F.ETH_IPV4) + tcp4()) == TCP4_KEYS


def test_ipv4_wrong_version_has_no_ip_keys() -> None:
    frame = F.ethernet(F.ETH_8021Q) + F.vlan(3, F.ETH_IPV4)
    frame += F.ipv4("1.2.3.4", "5.6.7.8", 6, F.tcp(1, 2), version=6)
    assert keys(frame) == FrameKeys(vlans=(3,))


def test_ipv4_shorter_than_20_bytes_has_no_ip_keys() -> None:
    frame = F.ethernet(F.ETH_IPV4) + tcp4()[:19]
    assert keys(frame) == FrameKeys()


@pytest.mark.parametrize("ihl", [0, 1, 4])
def test_ipv4_header_length_below_20_keeps_addresses_only(ihl: int) -> None:
    frame = bytearray(F.ethernet(F.ETH_IPV4) + tcp4())
    frame[14] = 0x40 | ihl
    assert keys(bytes(frame)) == FrameKeys(ipv4=TCP4_KEYS.ipv4)


def test_ipv4_options_move_the_ports() -> None:
    frame = F.ethernet(F.ETH_IPV4) + F.ipv4("1.1.1.1", "2.2.2.2", 17, F.udp(7, 8), ihl=7)
    assert keys(frame).ports == (7, 8)


def test_ipv4_later_fragment_has_no_ports() -> None:
    frame = F.ethernet(F.ETH_IPV4) + F.ipv4("1.1.1.1", "2.2.2.2", 17, F.udp(7, 8), frag_offset=1)
    assert keys(frame) == FrameKeys(proto=(17,), ipv4=(V4("1.1.1.1"), V4("2.2.2.2")))


def test_ipv4_first_fragment_has_ports() -> None:
    frame = F.ethernet(F.ETH_IPV4) + F.ipv4(
        "1.1.1.1", "2.2.2.2", 6, F.tcp(7, 8), more_fragments=True
    )
    assert keys(frame).ports == (7, 8)


def test_ipv4_same_source_and_destination_is_one_key() -> None:
    frame = F.ethernet(F.ETH_IPV4) + F.ipv4("9.9.9.9", "9.9.9.9", 17, F.udp(53, 53))
    assert keys(frame) == FrameKeys(proto=(17,), ports=(53,), ipv4=(V4("9.9.9.9"),))


def test_ipv4_header_longer_than_capture_keeps_proto() -> None:
    frame = F.ethernet(F.ETH_IPV4) + F.ipv4("1.1.1.1", "2.2.2.2", 6, b"", ihl=15)[:40]
    assert keys(frame) == FrameKeys(proto=(6,), ipv4=(V4("1.1.1.1"), V4("2.2.2.2")))


# -- step 5: IPv6 -----------------------------------------------------------------

A6, B6 = "2001:db8::1", "2001:db8::2"
AB6 = (V6(A6), V6(B6))


def v6(nh: int, payload: bytes) -> bytes:
    return F.ethernet(F.ETH_IPV6) + F.ipv6(A6, B6, nh, payload)


def test_ipv6_wrong_version_or_short_has_no_ip_keys() -> None:
    assert keys(F.ethernet(F.ETH_IPV6) + F.ipv6(A6, B6, 6, F.tcp(1, 2), version=4)) == FrameKeys()
    assert keys(v6(6, b"")[:-1]) == FrameKeys()


@pytest.mark.parametrize("ext", [0, 43, 60, 135])
def test_ipv6_extension_headers_are_skipped(ext: int) -> None:
    assert keys(v6(ext, F.ext_header(17, units=2) + F.udp(5, 6))) == FrameKeys(
        proto=(17,), ports=(5, 6), ipv6=AB6
    )


def test_ipv6_auth_header_length_in_4_byte_words() -> None:
    assert keys(v6(51, F.auth_header(6, words=5) + F.tcp(5, 6))) == FrameKeys(
        proto=(6,), ports=(5, 6), ipv6=AB6
    )


def test_ipv6_first_fragment_has_ports() -> None:
    got = keys(v6(44, F.fragment6(6, 0, more=True) + F.tcp(5, 6)))
    assert got == FrameKeys(proto=(6,), ports=(5, 6), ipv6=AB6)


def test_ipv6_later_fragment_proto_is_its_next_header() -> None:
    got = keys(v6(0, F.ext_header(44) + F.fragment6(17, 10) + F.udp(5, 6)))
    assert got == FrameKeys(proto=(17,), ipv6=AB6)


def test_ipv6_fragment_header_cut_short_proto_is_44() -> None:
    assert keys(v6(44, F.fragment6(6)[:7])) == FrameKeys(proto=(44,), ipv6=AB6)


def test_ipv6_chain_cut_short_proto_is_last_next_header() -> None:
    # hop-by-hop says routing comes next, and the capture ends there.
    assert keys(v6(0, F.ext_header(43))) == FrameKeys(proto=(43,), ipv6=AB6)
    # the capture ends inside the first extension header.
    assert keys(v6(60, b"\x06")) == FrameKeys(proto=(60,), ipv6=AB6)


def test_ipv6_extension_longer_than_capture_keeps_final_proto() -> None:
    got = keys(v6(0, bytes([6, 3]) + b"\x00" * 6))  # says 32 bytes, has 8
    assert got == FrameKeys(proto=(6,), ipv6=AB6)


def chain(n: int, final: int) -> bytes:
    out = b""
    for i in range(n):
        out += F.ext_header(60 if i + 1 < n else final)
    return out


def test_sixteen_extension_headers_are_followed() -> None:
    assert keys(v6(60, chain(16, 17) + F.udp(1, 2))) == FrameKeys(
        proto=(17,), ports=(1, 2), ipv6=AB6
    )


def test_seventeenth_extension_header_stops_with_its_type() -> None:
    assert keys(v6(60, chain(17, 17) + F.udp(1, 2))) == FrameKeys(proto=(60,), ipv6=AB6)


def test_ipv6_no_next_header() -> None:
    assert keys(v6(59, b"")) == FrameKeys(proto=(59,), ipv6=AB6)


# -- step 6: ports ------------------------------------------------------------------


@pytest.mark.parametrize("proto", [6, 17, 33, 132, 136])
def test_protocols_with_ports(proto: int) -> None:
    frame = F.ethernet(F.ETH_IPV4) + F.ipv4("1.1.1.1", "2.2.2.2", proto, F.ports_only(9, 10))
    assert keys(frame).ports == (9, 10)
    assert keys(v6(proto, F.ports_only(9, 10))).ports == (9, 10)


@pytest.mark.parametrize("proto", [1, 2, 47, 50, 58, 89])
def test_protocols_without_ports(proto: int) -> None:
    frame = F.ethernet(F.ETH_IPV4) + F.ipv4("1.1.1.1", "2.2.2.2", proto, F.ports_only(9, 10))
    assert keys(frame) == FrameKeys(proto=(proto,), ipv4=(V4("1.1.1.1"), V4("2.2.2.2")))


def test_ports_need_four_bytes() -> None:
    frame = F.ethernet(F.ETH_IPV4) + F.ipv4("1.1.1.1", "2.2.2.2", 17, b"\x00\x01\x00")
    assert keys(frame) == FrameKeys(proto=(17,), ipv4=(V4("1.1.1.1"), V4("2.2.2.2")))


def test_direction_does_not_matter() -> None:
    ab = F.ethernet(F.ETH_IPV4) + tcp4("10.0.0.1", "10.0.0.2", 1234, 80)
    ba = F.ethernet(F.ETH_IPV4) + tcp4("10.0.0.2", "10.0.0.1", 80, 1234)
    assert keys(ab) == keys(ba)


# -- the oracle on whatever else -------------------------------------------------------


def complex_frame() -> bytes:
    inner = F.ethernet(F.ETH_8021Q) + F.vlan(66, F.ETH_IPV6)
    inner += F.ipv6(
        A6,
        B6,
        0,
        F.ext_header(51, units=1) + F.auth_header(44) + F.fragment6(17, 0) + F.udp(4000, 53),
    )
    return (
        F.ethernet(F.ETH_8021AD)
        + F.vlan(10, F.ETH_8021Q)
        + F.vlan(11, F.ETH_MPLS)
        + F.mpls([300, 301])
        + F.pw_control_word()
        + inner
    )


def test_complex_frame_keys() -> None:
    assert keys(complex_frame(), tp_status=VLAN_VALID, vlan_tci=5) == FrameKeys(
        proto=(17,), ports=(53, 4000), vlans=(5, 10, 11, 66), mpls=(300, 301), ipv6=AB6
    )


def test_every_truncation_of_a_complex_frame() -> None:
    """Cut anywhere: never a crash, the oracle's keys, and nothing not in the whole frame
    except the proto the page assigns to a chain cut short."""
    frame = complex_frame()
    whole = frame_keys(frame, tp_status=VLAN_VALID, vlan_tci=5)
    for cut in range(len(frame) + 1):
        got = keys(frame[:cut], tp_status=VLAN_VALID, vlan_tci=5)
        for field in ("ports", "vlans", "ipv4", "mpls", "ipv6"):
            assert set(getattr(got, field)) <= set(getattr(whole, field)), (cut, field)


@pytest.mark.parametrize("name", sorted(frame_seeds()))
def test_every_truncation_of_every_seed(name: str) -> None:
    frame = frame_seeds()[name]
    for cut in range(len(frame) + 1):
        keys(frame[:cut])


_HEADER_PIECES = st.sampled_from(
    [
        F.ethernet(F.ETH_8021Q)[12:],
        F.vlan(1, F.ETH_8021Q),
        F.vlan(2, F.ETH_MPLS),
        F.vlan(3, F.ETH_IPV6),
        F.vlan(4, F.ETH_IPV4),
        F.mpls([5]),
        F.mpls([6, 7]),
        F.pw_control_word() + F.ethernet(F.ETH_8021Q),
        F.ipv4("1.2.3.4", "5.6.7.8", 17, F.udp(1, 2)),
        F.ipv4("1.2.3.4", "5.6.7.8", 6, b"", frag_offset=3),
        F.ipv6(A6, B6, 0, b""),
        F.ext_header(44),
        F.ext_header(51, units=1),
        F.auth_header(60),
        F.fragment6(6, 0),
        F.fragment6(17, 5),
        F.tcp(80, 8080),
        b"\x40",
        b"\x60",
        b"\x00",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(_HEADER_PIECES, max_size=12),
    noise=st.binary(max_size=24),
    status=st.sampled_from([0, VLAN_VALID]),
    tci=st.integers(0, 0xFFFF),
    start=st.sampled_from([F.ETH_8021Q, F.ETH_MPLS, F.ETH_IPV4, F.ETH_IPV6, F.ETH_8021AD]),
)
def test_random_header_stacks_match_the_oracle(
    pieces: list[bytes], noise: bytes, status: int, tci: int, start: int
) -> None:
    frame = F.ethernet(start) + b"".join(pieces) + noise
    keys(frame, tp_status=status, vlan_tci=tci)


@settings(max_examples=300, deadline=None)
@given(frame=st.binary(max_size=200))
def test_random_bytes_match_the_oracle(frame: bytes) -> None:
    keys(frame)
