"""steno/store/index_format.py: what the reader accepts, and how it refuses the rest.

Every rejection case runs against both readers (pure Python, and C through
IndexReader), and each must refuse with a message that names the problem.
Files come from the real C writer; bad ones are made from good ones by
cutting, flipping, or editing and then recomputing the checksums (so that the
structural checks, not only the CRCs, are exercised).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from steno.native.index import IndexBuilder, IndexOpenError, IndexReader
from steno.store.index_format import IndexFile, IndexFormatError
from tests.support import frames as F
from tests.support import index_surgery as S
from tests.support import tpacket as T

BS = 1 << 14


def sample_index(flows: int = 20, per_flow: int = 4) -> bytes:
    frames = [
        F.ethernet(F.ETH_IPV4) + F.ipv4(f"10.0.0.{i}", "10.9.9.9", 6, F.tcp(1000 + i, 80))
        for i in range(flows)
    ]
    frames.append(F.ethernet(F.ETH_IPV6) + F.ipv6("2001:db8::1", "2001:db8::2", 17, F.udp(1, 2)))
    packets = [
        T.Packet(frame=frames[i % len(frames)], nsec=i) for i in range(len(frames) * per_flow)
    ]
    blocks, _ = T.blocks(packets, BS)
    with IndexBuilder(BS) as b:
        for i, blk in enumerate(blocks):
            b.add_block(blk, i * BS)
        return b.serialize(len(blocks) * BS)


GOOD = sample_index()


def open_python(data: bytes) -> None:
    IndexFile.from_bytes(data).verify()


def open_c(data: bytes) -> None:
    with IndexReader(data) as r:
        # Touch every list so lazily found problems surface too.
        for t in range(1, 7):
            w = r.key_width(t)
            if w:
                r.positions_for_range(t, bytes(w), b"\xff" * w)
        r.positions(list(range(r.info.flows)))


Opener = Callable[[bytes], None]
READERS = [pytest.param(open_python, id="python"), pytest.param(open_c, id="c")]


def refuse(opener: Opener, data: bytes, match: str) -> None:
    errors = (IndexFormatError, IndexOpenError, OSError)
    with pytest.raises(errors, match=match):
        opener(data)


@pytest.mark.parametrize("opener", READERS)
def test_good_file_opens(opener: Opener) -> None:
    opener(GOOD)


@pytest.mark.parametrize("opener", READERS)
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"SQLite format 3\x00" + bytes(100),
        bytes(4096),
        # pcap, and the tail of an upstream LevelDB table
        bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000") + bytes(64),
        bytes(40) + bytes.fromhex("57fb808b247547db"),
    ],
    ids=["empty", "sqlite", "zeros", "pcap", "leveldb"],
)
def test_foreign_files(opener: Opener, data: bytes) -> None:
    refuse(opener, data, "not a steno index")


@pytest.mark.parametrize("opener", READERS)
def test_every_cut_is_refused(opener: Opener) -> None:
    for cut in range(len(GOOD)):
        refuse(opener, GOOD[:cut], "torn|not a steno index")


@pytest.mark.parametrize("opener", READERS)
def test_appended_bytes_are_refused(opener: Opener) -> None:
    refuse(opener, GOOD + b"\x00" * 8, "torn")
    refuse(opener, GOOD + GOOD, "torn|spliced")


@pytest.mark.parametrize("opener", READERS)
def test_every_flipped_byte_is_refused(opener: Opener) -> None:
    step = 1 if opener is open_python else 3  # C also gets a third of them; both are fast
    for at in range(0, len(GOOD), step):
        bad = bytearray(GOOD)
        bad[at] ^= 0x20
        refuse(
            opener,
            bytes(bad),
            "checksum|torn|not a steno index|not readable|header length|trailer",
        )


@pytest.mark.parametrize("opener", READERS)
def test_future_major_version(opener: Opener) -> None:
    refuse(opener, S.with_header_field(GOOD, "<H", 8, 2), r"version 2\.0 is not readable")
    # Even when the rest of the file is unreadable, the version is what is reported.
    refuse(opener, GOOD[:8] + struct.pack("<HH", 7, 3) + bytes(10), r"version 7\.3")


@pytest.mark.parametrize("opener", READERS)
def test_newer_minor_version_with_an_unknown_section_is_read(opener: Opener) -> None:
    header, pieces = S.split(GOOD)
    pieces.insert(1, S.Piece(type=40, flags=0, payload=b"tunnel keys, say"))
    newer = S.join(header, pieces)
    newer = S.with_header_field(newer, "<H", 10, 7)
    opener(newer)
    assert IndexFile.from_bytes(newer).header.minor == 7


@pytest.mark.parametrize("opener", READERS)
def test_unknown_required_section_is_refused(opener: Opener) -> None:
    header, pieces = S.split(GOOD)
    pieces.append(S.Piece(type=41, flags=1, payload=b"must understand"))
    refuse(opener, S.join(header, pieces), "section type 41 is required")


def edit_section(data: bytes, stype: int, at: int, fmt: str, value: int, nth: int = 0) -> bytes:
    header, pieces = S.split(data)
    matching = [p for p in pieces if p.type == stype]
    p = matching[nth]
    payload = bytearray(p.payload)
    struct.pack_into(fmt, payload, at, value)
    p.payload = bytes(payload)
    return S.join(header, pieces)


@pytest.mark.parametrize("opener", READERS)
@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: S.with_header_field(d, "<Q", 32, 12345), "packets"),
        (lambda d: S.with_header_field(d, "<I", 56, 99), "flows"),
        (lambda d: S.with_header_field(d, "<I", 20, 9), "block table"),
        (lambda d: S.with_header_field(d, "<Q", 24, 10), "beyond the packet file"),
        (lambda d: S.with_header_field(d, "<I", 16, 8), "block size"),
        (lambda d: S.with_header_field(d, "<Q", 40, 2**63), "time range"),
        (lambda d: edit_section(d, 2, 0, "<I", 3), "anchors|flow"),
        (lambda d: edit_section(d, 2, 4, "<B", 40), "malformed|list collection"),
        (lambda d: edit_section(d, 2, 16, "<I", 1), "anchor"),
        (lambda d: edit_section(d, 3, 4, "<I", 3), "keys of 3 bytes"),
        (lambda d: edit_section(d, 3, 8, "<I", 10**6), "do not fit"),
        (lambda d: edit_section(d, 1, 8, "<Q", 2**62), "ends before it starts"),
    ],
    ids=[
        "packet-count",
        "flow-count",
        "block-count",
        "file-size",
        "block-size",
        "times",
        "flow-list-count",
        "shift",
        "anchor",
        "key-width",
        "key-count",
        "block-times",
    ],
)
def test_inconsistent_but_checksummed_files(
    opener: Opener, edit: Callable[[bytes], bytes], match: str
) -> None:
    refuse(opener, edit(GOOD), match)


@pytest.mark.parametrize("opener", READERS)
def test_duplicate_sections(opener: Opener) -> None:
    header, pieces = S.split(GOOD)
    refuse(opener, S.join(header, [*pieces, pieces[0]]), "two block tables|outside")
    refuse(opener, S.join(header, [p for p in pieces if p.type != 2]), "no flow")


def test_sections_out_of_place_are_refused() -> None:
    data = bytearray(GOOD)
    dir_off, _ = struct.unpack_from("<QI", data, len(data) - 32)
    struct.pack_into("<Q", data, dir_off + 8, 1 << 40)  # first section's offset
    # Fix the file CRC only (the directory is not a section).
    from steno.store.crc32c import crc32c

    struct.pack_into("<I", data, len(data) - 20, crc32c(bytes(data[: len(data) - 32])))
    with pytest.raises(IndexFormatError, match="outside its place"):
        IndexFile.from_bytes(bytes(data))
    with pytest.raises(IndexOpenError, match="outside its place"):
        IndexReader(bytes(data))


def test_hostile_lists_fail_lookups_not_the_process() -> None:
    """Lists are decoded lazily: a malformed one surfaces at look-up, as an error."""
    header, pieces = S.split(GOOD)
    flows = next(p for p in pieces if p.type == 2)
    payload = bytearray(flows.payload)
    (nanchors,) = struct.unpack_from("<I", payload, 8)
    blob = 16 + 4 * nanchors
    for i in range(blob, len(payload)):
        payload[i] = 0xFF
    flows.payload = bytes(payload)
    bad = S.join(header, pieces)
    ix = IndexFile.from_bytes(bad)
    with pytest.raises(IndexFormatError, match="flows: list 0"):
        ix.positions_for_flow(0)
    with IndexReader(bad) as r, pytest.raises(OSError, match="flow positions"):
        r.positions([0])


def test_verify_catches_a_position_in_two_flows() -> None:
    """Well framed, checksummed, every list valid -- and still wrong: verify() says so."""
    header, pieces = S.split(GOOD)
    flows = next(p for p in pieces if p.type == 2)
    ix = IndexFile.from_bytes(GOOD)
    first = ix.positions_for_flow(0)
    second = ix.positions_for_flow(1)
    from steno.store.postings import encode

    payload = bytearray(flows.payload)
    (nanchors,) = struct.unpack_from("<I", payload, 8)
    blob = 16 + 4 * nanchors
    # The flows collection is chained: flow 1 is stored against flow 0's first value.
    ref = first[0] >> 3
    old0, old1 = encode([p >> 3 for p in first]), encode([p >> 3 for p in second], ref)
    assert payload[blob : blob + len(old0)] == old0
    # Give flow 1 the first position of flow 0 as well (same encoded length).
    stolen = encode(sorted({*(p >> 3 for p in second[1:]), first[0] >> 3}), ref)
    assert len(stolen) == len(old1)
    payload[blob + len(old0) : blob + len(old0) + len(old1)] = stolen
    flows.payload = bytes(payload)
    bad = IndexFile.from_bytes(S.join(header, pieces))
    with pytest.raises(IndexFormatError, match="in two flows"):
        bad.verify()


def test_header_fields() -> None:
    ix = IndexFile.from_bytes(GOOD)
    h = ix.header
    assert (h.major, h.minor, h.header_len, h.block_size) == (1, 0, 72, BS)
    assert h.packet_count == 21 * 4
    assert h.flow_count == 21
    assert h.first_ns == 1_700_000_000 * 10**9
    assert h.last_ns == 1_700_000_000 * 10**9 + 83
    assert [s.type for s in ix.sections] == [1, 2, 3, 3, 3, 3]
    assert ix.key_types() == (1, 2, 4, 6)


def test_keys_as_numbers_and_addresses() -> None:
    import ipaddress

    ix = IndexFile.from_bytes(GOOD)
    by_bytes = ix.positions_for_key(4, bytes([10, 9, 9, 9]))
    assert by_bytes
    assert ix.positions_for_key(4, ipaddress.IPv4Address("10.9.9.9")) == by_bytes
    assert ix.positions_for_key(4, 0x0A090909) == by_bytes
    assert ix.flows_for_key(2, 80) == ix.flows_for_key(2, b"\x00\x50")
    assert ix.keys(2)[:3] == (b"\x00\x01", b"\x00\x02", b"\x00\x50")
    with pytest.raises(ValueError, match="are 2 bytes"):
        ix.flows_for_key(2, b"\x00")
