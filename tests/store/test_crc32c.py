"""steno/store/crc32c.py: the standard check value, and chaining."""

from __future__ import annotations

from steno.store.crc32c import crc32c


def test_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283


def test_empty_and_chained() -> None:
    assert crc32c(b"") == 0
    data = bytes(range(256)) * 3
    assert crc32c(data[100:], crc32c(data[:100])) == crc32c(data)


def test_known_vectors() -> None:
    # RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of 0xff, and an ascending run.
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
