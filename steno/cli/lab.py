"""``steno-lab``: the lab's command line.

steno-lab generate --seed N --count N --profile P --out FILE.pcap --truth FILE.jsonl
steno-lab send --iface IF --pcap FILE.pcap [--count N] [--rate PPS] [--max-seconds S]
steno-lab demo [--count N] [--seed N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from steno.lab import send as send_cmd
from steno.lab.generator import PROFILES, generate
from steno.lab.pcap import PcapHeader, Precision, write_pcap_frames
from steno.lab.truth import write_truth_jsonl


def _generate(a: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    traffic = generate(a.seed, a.count, a.profile)
    t1 = time.perf_counter()
    header = PcapHeader(precision=Precision.NANO if a.nano else Precision.MICRO)
    interval = max(1, round(1e9 / a.rate))
    with open(a.out, "wb") as out:
        write_pcap_frames(
            out,
            traffic.data,
            traffic.offsets,
            start_ns=a.start_ns,
            interval_ns=interval,
            header=header,
        )
    if a.truth:
        with open(a.truth, "w") as out_t:
            write_truth_jsonl(out_t, traffic.records())
    print(
        f"steno-lab: {len(traffic)} frames, {traffic.total_bytes} bytes,"
        f" profile {a.profile}, seed {a.seed} (generated in {t1 - t0:.2f} s)",
        file=sys.stderr,
    )
    return 0


def _demo(a: argparse.Namespace) -> int:
    from steno.lab.demo import run_demo

    return run_demo(count=a.count, seed=a.seed)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="steno-lab", description="steno's traffic lab")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser(
        "generate", help="write seeded traffic as pcap, and its ground truth as JSON lines"
    )
    g.add_argument("--seed", type=int, required=True)
    g.add_argument("--count", type=int, required=True)
    g.add_argument("--profile", choices=PROFILES, default="mixed")
    g.add_argument("--out", required=True, help="pcap file to write")
    g.add_argument(
        "--truth", help="JSON-lines truth file to write (docs/index-keys.md keys per frame)"
    )
    g.add_argument("--nano", action="store_true", help="nanosecond pcap (default microsecond)")
    g.add_argument(
        "--rate", type=float, default=100_000.0, help="frames/s of the synthetic timestamps"
    )
    g.add_argument(
        "--start-ns", type=int, default=1_700_000_000_000_000_000, help="first timestamp (ns)"
    )
    g.set_defaults(func=_generate)

    s = sub.add_parser("send", help="send a pcap file's frames from an interface (C sender)")
    send_cmd.add_arguments(s)
    s.set_defaults(func=send_cmd.run)

    d = sub.add_parser("demo", help="capture generated traffic in a lab namespace and check it")
    d.add_argument("--count", type=int, default=20_000, help="frames to generate and send")
    d.add_argument("--seed", type=int, default=1)
    d.set_defaults(func=_demo)

    a = p.parse_args(argv)
    result: int = a.func(a)
    return result


if __name__ == "__main__":
    sys.exit(main())
