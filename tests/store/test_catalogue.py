"""The catalogue: sealed pairs only, incremental rescans, foreign and corrupt files named."""

from __future__ import annotations

import shutil
from pathlib import Path

from steno.lab.generator import generate
from steno.store.catalogue import Catalogue, IndexKind
from steno.store.naming import ThreadDirs
from tests.support.store import make_store, write_file
from tests.support.tpacket import Packet

UPSTREAM = Path(__file__).parent.parent / "data" / "upstream"


def test_sealed_pairs_only_oldest_first(tmp_path: Path) -> None:
    traffic = generate(seed=91, count=900, profile="imix")
    (dirs,) = make_store(tmp_path, list(traffic.frames()), files=3)
    (dirs.packets / ".1700000009000000").write_bytes(b"")  # being written
    (dirs.index / "1700000099000000").write_bytes(b"x")  # its packet file is gone
    cat = Catalogue.scan([dirs])
    names = [f.name for f in cat.threads[0]]
    assert names == sorted(names, key=int) and len(names) == 3
    assert all(f.kind is IndexKind.STENO and f.packet_bytes > 0 for f in cat.threads[0])
    assert cat.threads[0][0].first_ns <= cat.threads[0][0].last_ns < cat.threads[0][1].first_ns


def test_a_rescan_reuses_what_it_knows_and_sees_changes(tmp_path: Path) -> None:
    traffic = generate(seed=92, count=600, profile="imix")
    (dirs,) = make_store(tmp_path, list(traffic.frames()), files=2)
    first = Catalogue.scan([dirs], verify=True)
    gone = first.threads[0][0]
    gone.index_path.unlink()
    write_file(dirs, "1800000000000000", [Packet(frame=bytes(60), sec=1_800_000_000)], 1 << 16)
    second = Catalogue.scan([dirs], previous=first, verify=True)
    assert [f.name for f in second.threads[0]] == [first.threads[0][1].name, "1800000000000000"]
    assert second.threads[0][0] is first.threads[0][1]  # not opened again


def test_a_corrupt_index_is_a_problem_not_an_entry(tmp_path: Path) -> None:
    traffic = generate(seed=93, count=300, profile="imix")
    (dirs,) = make_store(tmp_path, list(traffic.frames()), files=1)
    (index,) = dirs.index.iterdir()
    data = bytearray(index.read_bytes())
    data[100] ^= 0xFF
    index.write_bytes(bytes(data))
    cat = Catalogue.scan([dirs], verify=True)
    assert cat.threads[0] == ()
    assert [p.path for p in cat.problems] == [index]


def test_upstream_files_are_recognized_with_a_wide_time_range(tmp_path: Path) -> None:
    dirs = ThreadDirs.under(tmp_path, 0)
    shutil.copytree(UPSTREAM / "PKT0", dirs.packets)
    shutil.copytree(UPSTREAM / "IDX0", dirs.index)
    cat = Catalogue.scan([dirs])
    assert [f.kind for f in cat.threads[0]] == [IndexKind.UPSTREAM, IndexKind.UPSTREAM]
    one = cat.threads[0][0]
    assert one.first_ns < int(one.name) * 1000 < one.last_ns
    assert one.block_size == 1 << 20
