"""How long a packet takes from the wire to being queryable (``python -m bench.freshness``).

In a lab namespace, the real daemon runs with the given rotation settings; a
burst of generated packets is sent, and ``stenoread`` is asked every 0.2 s
until it returns all of them.  The delay is the time from the last packet on
the wire to the first complete answer.  Upstream's design bounds it at about
``blockage_sec + fileage_sec + 15 s`` (its file sync), 100-120 s by default
(reference §1.5); steno's is about ``fileage_sec`` plus at most
``blockage_sec`` plus its one-second store scan.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

from steno.lab.daemon_run import Stenographer
from steno.lab.generator import generate
from steno.lab.netns import Lab
from steno.lab.pcap import iter_pcap

SETTINGS = {
    "default": ("--fileage_sec=60", "--blockage_sec=10"),
    "fast": ("--fileage_sec=10", "--blockage_sec=1"),
}


def measure(name: str, flags: tuple[str, ...], rounds: int) -> list[float]:
    delays = []
    with Lab() as lab:
        d = Stenographer(
            lab,
            lab.tmpdir / "steno",
            flags=("--blocks=64", "--aiops=16", "--filesize_mb=64", *flags),
        )
        d.start()
        try:
            for r in range(rounds):
                traffic = generate(seed=100 + r, count=200, profile="imix")
                lab.send((traffic.data, traffic.offsets), rate=10_000)
                sent = time.monotonic()
                wanted = set(traffic.frames())
                while True:
                    out = d.stenoread("after 1h ago", "-w", "-").stdout
                    got = {rec.data for rec in iter_pcap(io.BytesIO(out))[1]}
                    if wanted <= got:
                        break
                    if time.monotonic() - sent > 300:
                        raise RuntimeError(f"{name}: not queryable after 300 s")
                    time.sleep(0.2)
                delays.append(time.monotonic() - sent)
                print(f"{name} round {r}: {delays[-1]:.1f} s", flush=True)
        finally:
            d.stop()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.freshness")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS))
    parser.add_argument("--out", type=Path, default=Path("bench/results/freshness.json"))
    args = parser.parse_args()
    results = {name: measure(name, SETTINGS[name], args.rounds) for name in args.settings}
    summary = {
        name: {
            "flags": SETTINGS[name],
            "delays_s": [round(x, 2) for x in d],
            "max_s": round(max(d), 2),
            "mean_s": round(sum(d) / len(d), 2),
        }
        for name, d in results.items()
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
