"""The engine on a store built on disk (no capture): what a live system meets."""

from __future__ import annotations

import errno
import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from steno.lab.generator import generate
from steno.lab.pcap import iter_pcap
from steno.native.direct_read import DirectSpans
from steno.native.extract import PacketFileMap
from steno.query import engine, parse
from steno.query.engine import FIRST_CHUNK, QueryOptions, QueryRun, run_query
from steno.query.mapped_files import MappedFiles
from steno.query.plan import (
    NO_END,
    NO_START,
    VLAN,
    Everything,
    Lookup,
    Plan,
    Term,
    plan,
)
from steno.store.catalogue import Catalogue
from steno.store.open_files import OpenFiles
from tests.support.store import make_store


def _plan(text: str):  # type: ignore[no-untyped-def]
    return plan(parse(text, now=datetime.now(UTC)))


def test_a_file_deleted_while_a_query_reads_it_is_still_answered(tmp_path: Path) -> None:
    traffic = generate(seed=51, count=4000, profile="imix")
    dirs = make_store(tmp_path, list(traffic.frames()), files=2, block_size=1 << 20)
    catalogue = Catalogue.scan(dirs)
    open_files = OpenFiles()
    run = QueryRun()
    plan_ = _plan("after 1h ago or before 1h ago")
    chunks = run_query(plan_, catalogue, QueryOptions(), run, open_files)
    got = [next(chunks), next(chunks)]  # the header and the first records of the first file
    first = catalogue.threads[0][0]
    assert open_files.held([first.packet_path]) == [first.packet_path]
    os.unlink(first.index_path)  # retention deletes the oldest pair, index first
    os.unlink(first.packet_path)
    got.extend(chunks)
    records = list(iter_pcap(io.BytesIO(b"".join(got)))[1])
    assert [r.data for r in records] == list(traffic.frames())
    assert run.problems == []
    assert open_files.held([first.packet_path]) == []


def test_a_file_deleted_before_a_query_reaches_it_is_named_not_a_crash(tmp_path: Path) -> None:
    traffic = generate(seed=54, count=3000, profile="imix")
    dirs = make_store(tmp_path, list(traffic.frames()), files=3)
    catalogue = Catalogue.scan(dirs)
    last = catalogue.threads[0][-1]
    os.unlink(last.packet_path)
    run = QueryRun()
    data = b"".join(run_query(_plan("after 1h ago or before 1h ago"), catalogue, run=run))
    assert len(list(iter_pcap(io.BytesIO(data))[1])) == 2000
    assert [p.path for p in run.problems] == [last.index_path]


def test_memory_stays_bounded_when_the_answer_is_large(tmp_path: Path) -> None:
    """The answer streams: chunks are at most a megabyte, whatever its size."""
    traffic = generate(seed=52, count=20_000, profile="imix")
    dirs = make_store(tmp_path, list(traffic.frames()), files=4, threads=2)
    catalogue = Catalogue.scan(dirs)
    total = 0
    biggest = 0
    for chunk in run_query(_plan("after 1h ago or before 1h ago"), catalogue):
        total += len(chunk)
        biggest = max(biggest, len(chunk))
    assert total > 4 * (1 << 20)
    assert biggest <= 1 << 20


def test_open_files_are_released_when_a_query_is_abandoned(tmp_path: Path) -> None:
    traffic = generate(seed=53, count=3000, profile="imix")
    dirs = make_store(tmp_path, list(traffic.frames()), files=3)
    catalogue = Catalogue.scan(dirs)
    open_files = OpenFiles(limit=2)
    chunks = run_query(_plan("after 1h ago or before 1h ago"), catalogue, open_files=open_files)
    next(chunks)
    next(chunks)
    assert open_files.held([f.packet_path for f in catalogue.threads[0]])
    chunks.close()  # type: ignore[attr-defined]  # the client went away
    assert open_files.held([f.packet_path for f in catalogue.threads[0]]) == []


def test_the_first_packets_leave_in_a_small_chunk(tmp_path: Path) -> None:
    traffic = generate(seed=55, count=6000, profile="imix")
    dirs = make_store(tmp_path, list(traffic.frames()), files=2, block_size=1 << 20)
    chunks = run_query(_plan("after 1h ago or before 1h ago"), Catalogue.scan(dirs))
    sizes = [len(c) for c in chunks]
    assert sizes[1] <= FIRST_CHUNK < sizes[2]  # after the file header


def test_a_first_packet_bigger_than_the_first_chunk_is_answered(tmp_path: Path) -> None:
    traffic = generate(seed=56, count=50, profile="imix")
    frames = list(traffic.frames())
    frames[0] = frames[0] + bytes(FIRST_CHUNK + 5000 - len(frames[0]))
    dirs = make_store(tmp_path, frames, files=1, block_size=1 << 20)
    data = b"".join(run_query(_plan("after 1h ago or before 1h ago"), Catalogue.scan(dirs)))
    assert [r.data for r in iter_pcap(io.BytesIO(data))[1]] == frames


def test_kept_maps_give_the_same_answers_as_fresh_ones(tmp_path: Path) -> None:
    traffic = generate(seed=57, count=5000, profile="imix")
    dirs = make_store(tmp_path, list(traffic.frames()), files=3, block_size=1 << 20)
    catalogue = Catalogue.scan(dirs)
    maps = MappedFiles(OpenFiles())
    for text in ("tcp", "udp and port 53", "after 1h ago or before 1h ago", "tcp"):
        fresh = b"".join(run_query(_plan(text), catalogue))
        assert b"".join(run_query(_plan(text), catalogue, maps=maps)) == fresh
    assert len(maps) == 3
    maps.close()


def _o_direct_works(path: Path) -> bool:
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_DIRECT))
    except OSError:
        return False
    return True


def test_cold_dense_reads_go_around_the_page_cache_with_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    traffic = generate(seed=58, count=8000, profile="imix")
    dirs = make_store(tmp_path, list(traffic.frames()), files=3, block_size=1 << 20)
    catalogue = Catalogue.scan(dirs)
    if not _o_direct_works(catalogue.threads[0][0].packet_path):
        pytest.skip("the test directory's file system refuses O_DIRECT")
    opened: list[str] = []

    class Spy(DirectSpans):
        def __init__(self, path: str, *args: Any, **kw: Any) -> None:
            opened.append(path)
            super().__init__(path, *args, **kw)

    monkeypatch.setattr(engine, "DirectSpans", Spy)
    # Whether the files are cached, as the engine's probe would say (whether
    # eviction works, or the probe can tell, depends on the file system).
    cached = True
    monkeypatch.setattr(PacketFileMap, "cached", lambda *_: cached)
    for text in ("tcp", "after 1h ago or before 1h ago", "before 1h ago"):
        cached = True
        warm = b"".join(run_query(_plan(text), catalogue))
        assert opened == []  # read through the map
        cached = False
        assert b"".join(run_query(_plan(text), catalogue)) == warm
        assert len(opened) == 3
        opened.clear()


def test_a_file_system_without_o_direct_is_read_through_the_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    traffic = generate(seed=59, count=3000, profile="imix")
    dirs = make_store(tmp_path, list(traffic.frames()), files=2, block_size=1 << 20)
    catalogue = Catalogue.scan(dirs)
    texts = ("after 1h ago or before 1h ago", "before 1h ago")
    expected = [b"".join(run_query(_plan(text), catalogue)) for text in texts]
    real_open = os.open

    def no_direct(path: Any, flags: int, *args: Any) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_direct)
    monkeypatch.setattr(PacketFileMap, "cached", lambda *_: False)
    for text, answer in zip(texts, expected, strict=True):
        run = QueryRun()
        assert b"".join(run_query(_plan(text), catalogue, run=run)) == answer
        assert run.problems == []


def test_a_time_window_alone_is_read_block_by_block_with_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a time condition: the blocks the index's block table puts in the
    window are read whole, with no position list; the answer is what the
    position path gives (a second term that matches nothing forces it)."""
    traffic = generate(seed=60, count=6000, profile="imix")
    start = 1_700_000_000 * 10**9
    dirs = make_store(tmp_path, list(traffic.frames()), files=3, block_size=1 << 16, start_ns=start)
    catalogue = Catalogue.scan(dirs)
    listed: list[int] = []
    real_positions = engine._FileQuery.positions

    def spy(self: Any, expr: Any) -> Any:
        listed.append(1)
        return real_positions(self, expr)

    monkeypatch.setattr(engine._FileQuery, "positions", spy)
    ms = 10**6
    nothing = Term(Lookup.of(VLAN, 4094))
    for lo, hi in [
        (NO_START, NO_END),
        (start + 1234 * ms + 1, start + 4321 * ms),  # across files, cut mid-block
        (start + 2500 * ms, start + 2500 * ms + 1),  # one packet
        (start + 10**12, NO_END),  # after the last packet
    ]:
        alone = b"".join(run_query(Plan((Term(Everything, lo, hi),)), catalogue))
        assert listed == []
        by_position = b"".join(run_query(Plan((Term(Everything, lo, hi), nothing)), catalogue))
        assert listed
        listed.clear()
        assert alone == by_position
        times = [r.ts_ns for r in iter_pcap(io.BytesIO(alone))[1]]
        assert times == sorted(times) and all(lo <= t < hi for t in times)
        expected = sum(lo <= start + i * ms < hi for i in range(6000))
        assert len(times) == expected


def test_times_of_a_dense_list_are_read_with_readahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alternatives with different windows have each packet's time read
    before any is sent.  After the block descriptors were read (random
    access), a dense list must switch the map back to readahead: cold, a
    fault a page took a 1-minute window of the benchmark's store 50 s
    rather than 2."""
    traffic = generate(seed=61, count=3000, profile="imix")
    start = 1_700_000_000 * 10**9
    dirs = make_store(tmp_path, list(traffic.frames()), files=1, block_size=1 << 16, start_ns=start)
    calls: list[str] = []
    real_in_time = PacketFileMap.positions_in_time
    monkeypatch.setattr(PacketFileMap, "read_sequentially", lambda self: calls.append("ahead"))

    def in_time(self: PacketFileMap, *args: Any) -> Any:
        calls.append("times")
        return real_in_time(self, *args)

    monkeypatch.setattr(PacketFileMap, "positions_in_time", in_time)
    ms = 10**6
    window = Term(Everything, start + 100 * ms, start + 2000 * ms)
    b"".join(run_query(Plan((window, Term(Lookup.of(VLAN, 4094)))), Catalogue.scan(dirs)))
    assert calls[:2] == ["ahead", "times"]
