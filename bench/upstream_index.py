"""How fast steno reads upstream index files (steno/store/upstream_index.py).

    .venv/bin/python -m bench.upstream_index --synth 2000000     # build one, then measure
    .venv/bin/python -m bench.upstream_index --index PATH        # measure a real one

``--synth N`` lays out N frames of seeded mixed traffic as upstream stenotype
would (1 MiB blocks, 48-byte block header, records of 82 + caplen rounded to 8
bytes), gives each frame its keys, and has the LevelDB library's TableBuilder
write the index (tests/store/leveldb_oracle.cc, needs g++ and libleveldb-dev),
so the file is what upstream would have written for that traffic.

Prints one line per measurement.  Single-threaded Python; the machine has two
cores and nothing else should run.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from steno.lab.generator import generate
from steno.store.upstream_index import UpstreamIndex, UpstreamKeyType, encode_value

BLOCK = 1 << 20


def synth(n: int, seed: int, out: Path) -> Path:
    from tests.lab.upstream_contract import key_bytes
    from tests.store.leveldb_oracle import LevelDB

    traffic = generate(seed=seed, count=n, profile="mixed")
    table: dict[bytes, list[int]] = {}
    block, off = 0, 48
    offsets = traffic.offsets
    encoded: dict[tuple[int, int], bytes] = {}
    for i in range(n):
        rec = (82 + offsets[i + 1] - offsets[i] + 7) & ~7
        if off + rec > BLOCK:
            block, off = block + 1, 48
        pos = block * BLOCK + off
        off += rec
        for key in traffic.keys(i):
            kb = encoded.get(key)
            if kb is None:
                kb = encoded[key] = key_bytes(key)
            table.setdefault(kb, []).append(pos)
    items = [(b"\x00", bytes.fromhex("0000000200000000"))]
    for k in sorted(table):
        items.append((k, b"".join(p.to_bytes(4, "big") for p in table[k])))
    tmp = Path(tempfile.mkdtemp(prefix="steno-bench-"))
    path = out / f"synth-{n}"
    LevelDB.build(tmp).build_table(path, items)
    print(f"synthesised {path}: {n} frames, {block + 1} blocks of packets, {len(items)} keys")
    return path


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return min(runs)


def measure(path: Path, lookups: int, seed: int) -> None:
    data = path.read_bytes()
    size = len(data)
    mb = size / 1e6
    print(f"index {path}: {size} bytes")

    t = timed(lambda: UpstreamIndex.open(path).close(), 5)
    print(f"open (footer, index block frame, version):  {t * 1e3:8.2f} ms")
    idx = UpstreamIndex.from_bytes(data)
    t0 = time.perf_counter()
    summary = idx.check()
    t = time.perf_counter() - t0
    print(
        f"check() every block, CRC and entry:          {t:8.2f} s   {mb / t:6.1f} MB/s"
        f"  ({summary.data_blocks} data blocks, {sum(summary.keys.values())} keys,"
        f" {summary.positions} positions)"
    )
    idx = UpstreamIndex.from_bytes(data, verify_checksums=False)
    t = timed(lambda: sum(1 for _ in idx.all_items()), 1)
    print(f"scan every entry, no CRC:                    {t:8.2f} s   {mb / t:6.1f} MB/s")

    items = [(k, len(v) // 4) for k, v in idx.all_items() if k[:1] != b"\x00"]
    rng = random.Random(seed)
    sample = [k for k, _ in rng.sample(items, min(lookups, len(items)))]

    def lookups_per_s(verify: bool, fresh: bool) -> tuple[float, float]:
        shared = UpstreamIndex.from_bytes(data, verify_checksums=verify)
        per = []
        total = 0
        for k in sample:
            ix = UpstreamIndex.from_bytes(data, verify_checksums=verify) if fresh else shared
            t0 = time.perf_counter()
            total += len(ix.positions(k[0], k[1:]))
            per.append(time.perf_counter() - t0)
        return len(sample) / sum(per), statistics.median(per)

    for verify, fresh, label in (
        (True, True, "cold (new reader per look-up), CRC on "),
        (True, False, "warm (blocks verified once), CRC on   "),
        (False, False, "CRC off                                "),
    ):
        rate, median = lookups_per_s(verify, fresh)
        print(f"look-ups {label} {rate:9.0f} /s  median {median * 1e6:7.1f} us")

    big = sorted(items, key=lambda kv: -kv[1])[:5]
    for k, count in big:
        t = timed(functools.partial(idx.positions, k[0], k[1:]))
        print(
            f"large value {k.hex():>10}: {count:9d} positions in {t * 1e3:7.2f} ms"
            f"  ({count * 4 / t / 1e6:6.0f} MB/s)"
        )
    four = UpstreamKeyType.IPV4
    for lo, hi, label in (
        (0xC6120000, 0xC612FFFF, "net 198.18.0.0/16"),
        (0xC6120000, 0xC613FFFF, "net 198.18.0.0/15"),
        (0xC6120000, 0xC61200FF, "net 198.18.0.0/24"),
    ):
        ask = functools.partial(
            idx.positions_in_range, four, encode_value(four, lo), encode_value(four, hi)
        )
        got = ask()
        t = timed(ask, 1)
        lists = functools.partial(
            idx.lists_in_range, four, encode_value(four, lo), encode_value(four, hi)
        )
        t_lists = timed(lists, 1)
        print(
            f"range {label}: {len(got):9d} positions in {t * 1e3:8.1f} ms"
            f" ({len(lists())} lists without the union: {t_lists * 1e3:.1f} ms)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path)
    ap.add_argument("--synth", type=int, default=0, help="frames of a synthesised index")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    path = args.index or synth(args.synth or 200_000, args.seed, args.out)
    measure(path, args.lookups, args.seed)


if __name__ == "__main__":
    main()
