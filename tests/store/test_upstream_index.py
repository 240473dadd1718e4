"""The upstream index reader against known answers, LevelDB itself, and damage."""

from __future__ import annotations

import contextlib
import random
import struct
from array import array
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steno.store.upstream_index import (
    UpstreamIndex,
    UpstreamIndexError,
    UpstreamKeyType,
    encode_value,
    is_upstream_index,
)
from tests.store.leveldb_oracle import LevelDB
from tests.store.sstable_writer import (
    VERSION_VALUE,
    build_table,
    masked_crc,
    positions_value,
)

K = UpstreamKeyType
FOUR = [1048624, 1049024, 1049448, 1049848]

# Reference §3.2: upstream's testdata/IDX0/dhcp, key by key.
DHCP: list[tuple[str, list[int] | None]] = [
    ("00", None),
    ("0111", FOUR),
    ("013a", [48, 200]),
    ("020043", FOUR),
    ("020044", FOUR),
    ("0400000000", [1048624, 1049448]),
    ("04c0a80001", [1049024, 1049848]),
    ("04c0a8000a", [1049024, 1049848]),
    ("04ffffffff", [1048624, 1049448]),
    ("06fe800000000000003070b6fffe116f27", [48, 200]),
    ("06ff020000000000000000000000000002", [48, 200]),
]


def dhcp_items() -> list[tuple[bytes, bytes]]:
    return [(bytes.fromhex(k), VERSION_VALUE if p is None else positions_value(p)) for k, p in DHCP]


@pytest.fixture(scope="session")
def leveldb(tmp_path_factory: pytest.TempPathFactory) -> LevelDB:
    return LevelDB.build(tmp_path_factory.mktemp("leveldb"))


def random_items(seed: int, n: int) -> list[tuple[bytes, bytes]]:
    """A plausible upstream index: the version record, then n keys of random
    types with increasing positions (a few large values, as for ``tcp``)."""
    rng = random.Random(seed)
    keys: set[bytes] = set()
    while len(keys) < n:
        t = rng.choice([1, 2, 2, 3, 4, 4, 4, 5, 6, 6])
        keys.add(bytes([t]) + rng.randbytes(K(t).value_size))
    items = [(b"\x00", VERSION_VALUE)]
    for k in sorted(keys):
        count = rng.choice([1, 1, 2, 3, 5, 8]) if rng.random() > 0.01 else rng.randrange(500, 3000)
        positions = sorted(rng.sample(range(48, 1 << 32, 8), count))
        items.append((k, positions_value(positions)))
    return items


def as_positions(value: bytes) -> list[int]:
    return [p for (p,) in struct.iter_unpack(">I", value)]


# --- known answers --------------------------------------------------------------------


def test_dhcp_vector_has_the_documented_layout() -> None:
    data = build_table(dhcp_items())
    # §3.2: 294 bytes, one data block of 208 bytes (then its 5-byte trailer).
    assert len(data) == 294
    assert data[208] == 0
    assert struct.unpack_from("<I", data, 209)[0] == masked_crc(data[:209])
    assert is_upstream_index(data)


def test_dhcp_vector_positions() -> None:
    idx = UpstreamIndex.from_bytes(build_table(dhcp_items()))
    assert idx.version == (2, 0)
    for key, positions in DHCP[1:]:
        raw = bytes.fromhex(key)
        assert list(idx.positions(raw[0], raw[1:])) == positions, key
    summary = idx.check()
    assert summary.data_blocks == 1
    assert summary.keys == {0: 1, 1: 2, 2: 2, 4: 4, 6: 2}


def test_dhcp_vector_upstream_unit_test_queries() -> None:
    """The queries of upstream's indexfile_test.go (reference §9.1)."""
    idx = UpstreamIndex.from_bytes(build_table(dhcp_items()))
    ip = bytes.fromhex
    assert list(idx.positions_in_range(K.IPV4, ip("c0a80001"), ip("c0a800fe"))) == [
        1049024,
        1049848,
    ]
    assert list(idx.positions_in_range(K.IPV4, ip("0a000001"), ip("0a0000fe"))) == []
    assert list(idx.positions(K.PROTO, b"\x11")) == FOUR
    assert list(idx.positions(K.PROTO, b"\x12")) == []
    assert list(idx.positions(K.PORT, encode_value(K.PORT, 67))) == FOUR
    assert list(idx.positions(K.PORT, encode_value(K.PORT, 69))) == []
    assert [k.hex() for k, _ in idx.all_items()][:3] == ["00", "0111", "013a"]
    # The whole IPv4 space: union without duplicates, in order.
    assert list(idx.positions_in_range(K.IPV4, bytes(4), b"\xff" * 4)) == FOUR
    assert list(idx.keys(K.PORT)) == [b"\x00\x43", b"\x00\x44"]
    assert list(idx.keys(K.VLAN)) == []
    assert [(v, list(p)) for v, p in idx.items(K.PROTO)] == [
        (b"\x11", FOUR),
        (b"\x3a", [48, 200]),
    ]


def test_positions_are_u32_arrays() -> None:
    idx = UpstreamIndex.from_bytes(build_table(dhcp_items()))
    got = idx.positions(K.PORT, encode_value(K.PORT, 67))
    assert isinstance(got, array)
    assert got.typecode == "I"


def test_empty_packet_file_index() -> None:
    """An index of a file rotated without traffic: just the version record
    (105 bytes, as upstream writes it)."""
    data = build_table([(b"\x00", VERSION_VALUE)])
    assert len(data) == 105
    idx = UpstreamIndex.from_bytes(data)
    assert idx.check().keys == {0: 1}
    assert list(idx.positions(K.PORT, b"\x00\x50")) == []
    assert list(idx.positions_in_range(K.IPV6, bytes(16), b"\xff" * 16)) == []


# --- against the LevelDB library ---------------------------------------------------


def test_leveldb_writes_the_same_bytes_as_the_test_writer(leveldb: LevelDB, tmp_path: Path) -> None:
    for seed, n in ((0, 0), (1, 10), (2, 700), (3, 5000)):
        items = dhcp_items() if n == 0 else random_items(seed, n)
        real = leveldb.build_table(tmp_path / f"t{seed}", items)
        assert build_table(items) == real, seed


def test_reader_agrees_with_leveldb(leveldb: LevelDB, tmp_path: Path) -> None:
    for seed, n in ((4, 3), (5, 300), (6, 6000)):
        items = random_items(seed, n)
        path = tmp_path / f"t{seed}"
        leveldb.build_table(path, items)
        with UpstreamIndex.open(path) as idx:
            assert list(idx.all_items()) == leveldb.dump(path) == items
            summary = idx.check()
            assert summary.data_blocks > (1 if n > 100 else 0)
            for k, v in random.Random(seed).sample(items[1:], min(50, n)):
                assert list(idx.positions(k[0], k[1:])) == as_positions(v)


def test_many_blocks_lookups_and_ranges() -> None:
    items = random_items(7, 4000)
    idx = UpstreamIndex.from_bytes(build_table(items))
    table = dict(items)
    assert idx.check().data_blocks > 20
    for k, v in items[1:]:
        assert list(idx.positions(k[0], k[1:])) == as_positions(v)
        # Absent neighbours (one more, one less) are absent.
        for delta in (-1, 1):
            n = int.from_bytes(k[1:], "big") + delta
            if 0 <= n < 1 << (8 * (len(k) - 1)):
                near = n.to_bytes(len(k) - 1, "big")
                if k[:1] + near not in table:
                    assert list(idx.positions(k[0], near)) == []
    rng = random.Random(8)
    for t in (2, 4, 6):
        size = K(t).value_size
        for _ in range(40):
            a, b = sorted(rng.randbytes(size) for _ in range(2))
            want = sorted(
                {p for k, v in items if k[0] == t and a <= k[1:] <= b for p in as_positions(v)}
            )
            assert list(idx.positions_in_range(t, a, b)) == want
            lists = idx.lists_in_range(t, a, b)
            assert [list(x) for x in lists] == [
                as_positions(v) for k, v in items if k[0] == t and a <= k[1:] <= b
            ]
        assert list(idx.positions_in_range(t, b"\xff" * size, bytes(size))) == []
        assert list(idx.keys(t)) == [k[1:] for k, _ in items if k[0] == t]


# --- telling formats apart, arguments --------------------------------------------------


def test_is_upstream_index() -> None:
    data = build_table(dhcp_items())
    assert is_upstream_index(data)
    assert is_upstream_index(memoryview(data))
    assert not is_upstream_index(data[:-1])
    assert not is_upstream_index(b"")
    steno_like = b"STENOIDX" + bytes(100) + b"STENOEND"
    assert not is_upstream_index(steno_like)
    with pytest.raises(UpstreamIndexError, match="steno index file"):
        UpstreamIndex.from_bytes(steno_like)


def test_argument_errors() -> None:
    idx = UpstreamIndex.from_bytes(build_table(dhcp_items()))
    with pytest.raises(ValueError, match="unknown upstream key type"):
        idx.positions(7, b"\x00")
    with pytest.raises(ValueError, match="2 bytes"):
        idx.positions(K.PORT, b"\x00")
    with pytest.raises(TypeError):
        idx.positions(K.PORT, "ab")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not fit"):
        encode_value(K.VLAN, 1 << 16)
    assert encode_value(K.IPV4, 0xC0A80001) == bytes.fromhex("c0a80001")
    with pytest.raises(TypeError):
        UpstreamIndex.from_bytes("text")  # type: ignore[arg-type]


def test_open_maps_and_closes(tmp_path: Path) -> None:
    path = tmp_path / "1700000000000000"
    path.write_bytes(build_table(dhcp_items()))
    idx = UpstreamIndex.open(path)
    assert list(idx.positions(K.PROTO, b"\x3a")) == [48, 200]
    assert idx.size == 294
    idx.close()
    idx.close()
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(UpstreamIndexError, match="empty file"):
        UpstreamIndex.open(tmp_path / "empty")
    (tmp_path / "torn").write_bytes(build_table(dhcp_items())[:200])
    with pytest.raises(UpstreamIndexError, match="torn"):
        UpstreamIndex.open(tmp_path / "torn")


# --- errors with a clear message -----------------------------------------------------


def _rewrite_trailer(data: bytearray, block_end: int, kind: int) -> None:
    data[block_end] = kind
    struct.pack_into("<I", data, block_end + 1, masked_crc(bytes(data[: block_end + 1])))


def test_compressed_block_is_refused_clearly() -> None:
    data = bytearray(build_table(dhcp_items()))
    _rewrite_trailer(data, 208, 1)
    with pytest.raises(UpstreamIndexError, match=r"compressed \(type 1, snappy\)"):
        UpstreamIndex.from_bytes(data)


def test_checksum_mismatch_names_the_block() -> None:
    data = bytearray(build_table(dhcp_items()))
    data[100] ^= 0x01
    # Opening reads the version record without verifying its (data) block;
    # the first look-up that uses the block verifies it, and so does check().
    idx = UpstreamIndex.from_bytes(data)
    with pytest.raises(UpstreamIndexError, match=r"offset 0 .*checksum mismatch"):
        idx.positions(K.PORT, encode_value(K.PORT, 67))
    with pytest.raises(UpstreamIndexError, match=r"offset 0 .*checksum mismatch"):
        UpstreamIndex.from_bytes(data).check()
    # The index block is verified at open.
    index_block = bytearray(build_table(dhcp_items()))
    index_block[230] ^= 0x01
    with pytest.raises(UpstreamIndexError, match=r"index block at offset 226 .*checksum mismatch"):
        UpstreamIndex.from_bytes(index_block)
    # Without verification the data block damage goes unnoticed here (a
    # position byte changed): that is what verify_checksums=False trades away.
    UpstreamIndex.from_bytes(data, verify_checksums=False).check()


def test_version_errors() -> None:
    v3 = [(b"\x00", bytes.fromhex("0000000300000000")), *dhcp_items()[1:]]
    with pytest.raises(UpstreamIndexError, match=r"version 3\.0"):
        UpstreamIndex.from_bytes(build_table(v3))
    minor = [(b"\x00", bytes.fromhex("0000000200000007")), *dhcp_items()[1:]]
    assert UpstreamIndex.from_bytes(build_table(minor)).version == (2, 7)
    short = [(b"\x00", b"\x00\x00\x00\x02"), *dhcp_items()[1:]]
    with pytest.raises(UpstreamIndexError, match="version record of 4 bytes"):
        UpstreamIndex.from_bytes(build_table(short))
    with pytest.raises(UpstreamIndexError, match="no version record"):
        UpstreamIndex.from_bytes(build_table(dhcp_items()[1:]))
    with pytest.raises(UpstreamIndexError, match="no version record"):
        UpstreamIndex.from_bytes(build_table([]))


def test_keys_out_of_order() -> None:
    items = dhcp_items()
    items[3], items[4] = items[4], items[3]
    idx = UpstreamIndex.from_bytes(build_table(items))
    with pytest.raises(UpstreamIndexError, match="keys out of order: 020043 after 020044"):
        idx.check()
    with pytest.raises(UpstreamIndexError, match="out of order"):
        list(idx.keys(K.PORT))


def test_bad_contents_found_by_check() -> None:
    cases = {
        "not increasing": [("0111", positions_value([8, 8]))],
        "no positions": [("0111", b"")],
        "not a list of u32": [("0111", b"\x00\x00\x01")],
        "unknown key type 7": [("0701", positions_value([8]))],
        "has 2 value bytes, type 1 has 1": [("010101", positions_value([8]))],
    }
    for message, extra in cases.items():
        items = [(b"\x00", VERSION_VALUE), *((bytes.fromhex(k), v) for k, v in extra)]
        idx = UpstreamIndex.from_bytes(build_table(items))
        with pytest.raises(UpstreamIndexError, match=message):
            idx.check()


# --- damage: never anything but UpstreamIndexError ------------------------------------


def _read_everything(data: bytes | bytearray, *, verify: bool = True) -> None:
    idx = UpstreamIndex.from_bytes(data, verify_checksums=verify)
    idx.check()
    for t in K:
        list(idx.items(t))
        idx.positions(t, bytes(t.value_size))
        idx.positions_in_range(t, bytes(t.value_size), b"\xff" * t.value_size)


def _multi_block() -> bytes:
    return build_table(random_items(9, 300))


def test_every_cut_is_an_error() -> None:
    for data in (build_table(dhcp_items()), _multi_block()):
        for n in range(len(data)):
            with pytest.raises(UpstreamIndexError):
                _read_everything(data[:n])


def test_every_bit_flip_is_an_error() -> None:
    data = build_table(dhcp_items())
    for bit in range(8 * len(data)):
        bad = bytearray(data)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(UpstreamIndexError):
            _read_everything(bad)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_bit_flips_in_a_multi_block_table(data: st.DataObject) -> None:
    table = bytearray(_MULTI)
    for bit in data.draw(st.sets(st.integers(0, 8 * len(table) - 1), min_size=1, max_size=4)):
        table[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(UpstreamIndexError):
        _read_everything(table)


_MULTI = _multi_block()


def _mutations() -> st.SearchStrategy[list[tuple[int, int]]]:
    return st.lists(st.tuples(st.integers(0, len(_MULTI) - 1), st.integers(0, 255)), max_size=8)


@settings(max_examples=1000, deadline=None)
@given(_mutations(), st.integers(0, len(_MULTI)))
def test_damage_without_checksums_is_only_ever_an_index_error(
    edits: list[tuple[int, int]], cut: int
) -> None:
    """With checksums off, damaged bytes reach the block and entry parser: it
    may read nonsense, but it raises nothing other than UpstreamIndexError."""
    table = bytearray(_MULTI)
    for pos, byte in edits:
        table[pos] = byte
    with contextlib.suppress(UpstreamIndexError):
        _read_everything(table[:cut] if cut < len(_MULTI) // 2 else table, verify=False)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_is_only_ever_an_index_error(blob: bytes) -> None:
    for data in (blob, blob + bytes.fromhex("57fb808b247547db")):
        with contextlib.suppress(UpstreamIndexError):
            _read_everything(data, verify=False)


def test_leveldb_also_rejects_what_the_reader_rejects(leveldb: LevelDB, tmp_path: Path) -> None:
    """Spot check that the damage above is damage to LevelDB too."""
    data = build_table(dhcp_items())
    path = tmp_path / "bad"
    for pos in (0, 100, 207, 208, 210, 250, len(data) - 1):
        bad = bytearray(data)
        bad[pos] ^= 0x40
        path.write_bytes(bad)
        assert leveldb.dump_fails(path), pos
    for n in (0, 47, 48, 200, len(data) - 1):
        path.write_bytes(data[:n])
        assert leveldb.dump_fails(path), n
