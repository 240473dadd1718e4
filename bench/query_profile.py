"""Where a steno query's time goes: C against Python, with cProfile.

``profile_query`` runs ``stenoquery``'s ``main`` in this process under cProfile,
writing the pcap to ``/dev/null`` (no pipe, no reader), and splits the time
into the C functions the engine calls through cffi (packet extraction, index
look-ups, set operations, the pcap merge and limits; each by name) and the
Python around them.  Interpreter start-up and imports are not in it: the
benchmark's fixed costs measure those.

Run alone: ``python -m bench.query_profile --dir STORE 'QUERY'``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from steno.cli.stenoquery import main as stenoquery_main

_C_MODULE = "steno.native._steno"


def profile_query(store: Path, query: str, *, top: int = 8) -> dict[str, Any]:
    """Wall time, C time by function, Python time, for one run of the query."""
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    status = stenoquery_main(["--dir", str(store), "-w", os.devnull, query])
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    c_time: dict[str, float] = {}
    python_functions: list[tuple[float, str]] = []
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, line, name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        if filename == "~" and _C_MODULE in name:
            short = name.split(".")[-1].rstrip(">").strip("'")
            c_time[short] = c_time.get(short, 0.0) + tottime
        elif filename != "~":
            python_functions.append((tottime, f"{Path(filename).name}:{line}({name})"))
    total = sum(v[2] for v in raw.values())
    c_total = sum(c_time.values())
    python_functions.sort(reverse=True)
    return {
        "query": query,
        "exit_status": status,
        "wall_s": wall,
        "profiled_s": total,
        "c_s": c_total,
        "c_by_function_s": dict(sorted(c_time.items(), key=lambda kv: -kv[1])),
        "python_and_other_s": total - c_total,
        "top_python_s": [{"function": f, "s": t} for t, f in python_functions[:top]],
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.query_profile")
    ap.add_argument("--dir", type=Path, required=True, help="a steno store (PKT0/, IDX0/)")
    ap.add_argument("query")
    args = ap.parse_args(argv)
    r = profile_query(args.dir, args.query)
    print(f"{r['query']}: {r['wall_s']:.3f} s wall, {r['c_s']:.3f} s in C:")
    for name, s in r["c_by_function_s"].items():
        print(f"  {s:8.3f} s  {name}")
    print(f"  {r['python_and_other_s']:8.3f} s  Python and other built-ins; top Python:")
    for f in r["top_python_s"]:
        print(f"  {f['s']:8.3f} s  {f['function']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
