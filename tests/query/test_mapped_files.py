"""Packet-file maps kept between queries: reused, bounded, and never keeping a
deleted file's space longer than a query reads it."""

from __future__ import annotations

from array import array
from contextlib import ExitStack
from pathlib import Path

import pytest
from steno.native._steno import ffi

from steno.native.extract import PacketFileMap
from steno.query.mapped_files import MappedFiles
from steno.store.open_files import OpenFiles
from tests.support.tpacket import Packet, blocks

BS = 1 << 16


def _write_packet_file(path: Path, seed: int) -> list[int]:
    packets = [Packet(frame=bytes([seed, i]) * 30, sec=1000 + i) for i in range(20)]
    data, positions = blocks(packets, BS)
    path.write_bytes(b"".join(data))
    return positions


def _first_frame(packets: PacketFileMap, positions: list[int]) -> bytes:
    out = ffi.new("uint8_t[]", BS)
    got = packets.records(array("I", positions[:1]), 0, out, BS)
    return got.data[16:]  # after the pcap record header


@pytest.fixture
def files(tmp_path: Path) -> list[tuple[Path, list[int]]]:
    made = []
    for i in range(3):
        path = tmp_path / f"170000000000000{i}"
        made.append((path, _write_packet_file(path, i)))
    return made


def test_a_second_query_gets_the_same_map(files: list[tuple[Path, list[int]]]) -> None:
    path, positions = files[0]
    maps = MappedFiles(OpenFiles())
    with maps.use(path, BS) as first:
        frame = _first_frame(first, positions)
    with maps.use(path, BS) as second:
        assert second is first
        assert _first_frame(second, positions) == frame
    assert len(maps) == 1
    maps.close()


def test_a_kept_map_holds_its_file_until_the_file_is_deleted(
    files: list[tuple[Path, list[int]]],
) -> None:
    path, _ = files[0]
    open_files = OpenFiles()
    maps = MappedFiles(open_files)
    with maps.use(path, BS):
        pass
    assert open_files.held([path]) == [path]  # retention counts its space as taken
    assert maps.drop_deleted() == 0
    path.unlink()
    assert maps.drop_deleted() == 1
    assert open_files.held([path]) == []
    assert len(maps) == 0


def test_a_deleted_file_in_use_is_closed_by_its_last_reader(
    files: list[tuple[Path, list[int]]],
) -> None:
    path, positions = files[0]
    open_files = OpenFiles()
    maps = MappedFiles(open_files)
    with maps.use(path, BS) as packets:
        frame = _first_frame(packets, positions)
        path.unlink()
        assert maps.drop_deleted() == 1
        assert _first_frame(packets, positions) == frame  # still readable meanwhile
        assert open_files.held([path]) == [path]
    assert open_files.held([path]) == []
    with pytest.raises(FileNotFoundError), maps.use(path, BS):
        pass


def test_a_file_replaced_under_the_same_name_is_mapped_afresh(
    files: list[tuple[Path, list[int]]],
) -> None:
    path, positions = files[0]
    maps = MappedFiles(OpenFiles())
    with maps.use(path, BS) as old:
        old_frame = _first_frame(old, positions)
    path.unlink()
    new_positions = _write_packet_file(path, 9)
    with maps.use(path, BS) as new:
        assert new is not old
        assert _first_frame(new, new_positions) != old_frame
    maps.close()


def test_the_least_recently_used_go_first(files: list[tuple[Path, list[int]]]) -> None:
    open_files = OpenFiles()
    maps = MappedFiles(open_files, capacity=2)
    paths = [p for p, _ in files]
    for p in (paths[0], paths[1], paths[0], paths[2]):
        with maps.use(p, BS):
            pass
    assert len(maps) == 2
    assert open_files.held(paths) == [paths[0], paths[2]]
    maps.close()
    assert open_files.held(paths) == []


def test_without_a_free_slot_a_query_gets_a_map_of_its_own(
    files: list[tuple[Path, list[int]]],
) -> None:
    (path, positions), (other, _) = files[0], files[1]
    open_files = OpenFiles(limit=4)  # the cache may keep one map
    maps = MappedFiles(open_files)
    with ExitStack() as queries:
        for _ in range(4):
            queries.enter_context(open_files.hold(other))
        with maps.use(path, BS) as packets:
            assert _first_frame(packets, positions)
        assert len(maps) == 0
    with maps.use(path, BS):
        pass
    assert len(maps) == 1
    maps.close()
