"""``python -m steno.lab.send``: send the frames of a pcap file from an interface.

Runs where the interface is (the lab starts it inside its namespace), prints
the result as one JSON object on stdout.  Bounded: --count frames at most,
--max-seconds always.
"""

from __future__ import annotations

import argparse
import json
import sys
from array import array
from collections.abc import Sequence

from steno.lab.pcap import read_pcap
from steno.native.sender import Sender


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iface", required=True, help="interface to send on")
    p.add_argument("--pcap", required=True, help="frames to send (pcap file)")
    p.add_argument(
        "--count",
        type=int,
        default=None,
        help="frames to send, going round the file (default: each once)",
    )
    p.add_argument(
        "--rate", type=float, default=None, help="frames per second (default: as fast as possible)"
    )
    p.add_argument(
        "--max-seconds", type=float, default=30.0, help="stop after this long (default 30)"
    )
    p.add_argument("--method", choices=("mmsg", "ring"), default="mmsg", help="sendmmsg or TX ring")


def run(args: argparse.Namespace) -> int:
    _, records = read_pcap(args.pcap)
    if not records:
        print("send: the pcap file holds no frames", file=sys.stderr)
        return 2
    offsets = array("Q", [0])
    for r in records:
        offsets.append(offsets[-1] + len(r.data))
    data = b"".join(r.data for r in records)
    with Sender(args.iface, method=args.method) as sender:
        result = sender.send(
            data, offsets, count=args.count, rate=args.rate, max_seconds=args.max_seconds
        )
    json.dump(result.as_dict(), sys.stdout)
    sys.stdout.write("\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="steno-lab send", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
