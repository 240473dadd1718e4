"""Builds the libFuzzer harnesses with clang and runs them: ``python -m fuzz.run --seconds N``.

Three harnesses (the C files beside this module), each compiled together
with every C file of the core, with AddressSanitizer and UndefinedBehavior-
Sanitizer (``-fsanitize=fuzzer,address,undefined``, UB made fatal):

* ``keys``      -- the frame walk, with its output checked for canonical form;
* ``roundtrip`` -- frames -> blocks -> builder -> file -> C reader, every
  packet looked up under every one of its keys;
* ``reader``    -- arbitrary bytes as an index file, opened and queried.

The seconds are shared between the harnesses.  Corpora live in
``fuzz-corpus/<harness>/`` at the repository root (kept between runs,
ignored by git) and start from seeds ``fuzz/make_seeds.py`` writes.  A crash
leaves its input in ``fuzz-corpus/artifacts/`` and makes this exit 1; the
output ends with one line per harness: executions and seconds.

Needs clang and its compiler runtime (Debian: ``clang``, ``libclang-rt-14-dev``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

from fuzz.make_seeds import write_seeds

ROOT = Path(__file__).resolve().parent.parent
FUZZ_DIR = ROOT / "fuzz"
C_DIR = ROOT / "steno" / "native" / "c"
HARNESSES = ("keys", "roundtrip", "reader")
FLAGS = [
    "-g",
    "-O1",
    "-std=gnu11",
    "-D_GNU_SOURCE",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fsanitize=fuzzer,address,undefined",
    "-fno-sanitize-recover=undefined",
]


@attrs.frozen(kw_only=True)
class Outcome:
    harness: str
    executions: int
    seconds: float
    crashed: bool
    log: str


def find_clang() -> str:
    clang = os.environ.get("CLANG") or shutil.which("clang")
    if not clang:
        raise SystemExit("fuzz.run: clang not found (install clang and libclang-rt-14-dev)")
    return clang


def build(clang: str, harness: str, out_dir: Path) -> Path:
    exe = out_dir / f"fuzz_{harness}"
    sources = [str(FUZZ_DIR / f"fuzz_{harness}.c"), *sorted(str(p) for p in C_DIR.glob("*.c"))]
    cmd = [clang, *FLAGS, f"-I{C_DIR}", *sources, "-o", str(exe)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"fuzz.run: building {harness} failed:\n{done.stderr}")
    return exe


def run_one(exe: Path, harness: str, corpus: Path, seeds: Path, seconds: int) -> Outcome:
    work = corpus / harness
    artifacts = corpus / "artifacts"
    work.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(exe),
        str(work),
        str(seeds / harness),
        f"-max_total_time={seconds}",
        "-max_len=65536",
        "-timeout=20",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/{harness}-",
    ]
    t0 = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=seconds + 120)
    elapsed = time.monotonic() - t0
    log = done.stdout + done.stderr
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    return Outcome(
        harness=harness,
        executions=int(m.group(1)) if m else 0,
        seconds=elapsed,
        crashed=done.returncode != 0,
        log=log,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and run the libFuzzer harnesses.")
    parser.add_argument("--seconds", type=int, default=60, help="total, shared by the harnesses")
    parser.add_argument("--only", choices=HARNESSES, action="append", help="run just these")
    parser.add_argument(
        "--corpus", type=Path, default=ROOT / "fuzz-corpus", help="corpus and artifacts directory"
    )
    args = parser.parse_args(argv)
    harnesses = tuple(args.only or HARNESSES)
    share = max(1, args.seconds // len(harnesses))
    clang = find_clang()
    with tempfile.TemporaryDirectory(prefix="steno-fuzz-") as tmp:
        tmp_dir = Path(tmp)
        seeds = tmp_dir / "seeds"
        write_seeds(seeds)
        outcomes = []
        for harness in harnesses:
            exe = build(clang, harness, tmp_dir)
            outcome = run_one(exe, harness, args.corpus, seeds, share)
            outcomes.append(outcome)
            if outcome.crashed:
                sys.stderr.write(outcome.log[-6000:])
    failed = False
    for o in outcomes:
        status = "CRASH" if o.crashed else "ok"
        print(f"fuzz {o.harness}: {status}, {o.executions} executions in {o.seconds:.0f} s")
        failed |= o.crashed
    if failed:
        print(f"fuzz.run: crashing inputs are in {args.corpus / 'artifacts'}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
