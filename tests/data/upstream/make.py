"""Regenerates the captured upstream store in this directory (needs root).

    sudo .venv/bin/python tests/data/upstream/make.py

Debian's ``/usr/sbin/stenotype`` (1.0.1) captures a few hundred frames of the
project's own seeded traffic (``steno.lab.generator``, mixed profile, only
198.18.0.0/15 and 2001:db8::/32 addresses) in a lab namespace (both veth ends
inside it, deleted afterwards).  Kept: the one packet file that holds them (a
single 1 MiB block, as upstream writes it; mostly zeros, small in git) and its
index, one packet file rotated without traffic (0 bytes) and its index, and
``truth.json``: for every packet its position, frame number, lengths, the
stripped outer tag, the keys steno's contract gives it (``docs/index-keys.md``)
and the keys upstream indexed it under (reference §2.8; the test checks the
index against them).

The capture is retried (at most 3 times) if the frames did not land in exactly
one block of one file.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from steno.lab.generator import generate  # noqa: E402
from steno.lab.netns import Lab  # noqa: E402
from steno.lab.truth import FrameTruth, KeyType  # noqa: E402
from tests.lab.upstream_contract import upstream_keys_of  # noqa: E402
from tests.lab.upstream_run import (  # noqa: E402
    BLOCK_SIZE,
    FLAGS,
    UpstreamStenotype,
    stored_packets,
)

SEED = 41
PROFILE = "mixed"
COUNT = 300
RATE = 3000.0


def keys_json(keys: frozenset[tuple[KeyType, int]]) -> dict[str, list[str | int]]:
    return FrameTruth(keys=keys).keys_json()


def dump(doc: dict[str, Any]) -> str:
    """JSON with one packet a line: small, and readable in a diff."""
    head = {k: v for k, v in doc.items() if k != "packets"}
    lines = [json.dumps(p, separators=(",", ":")) for p in doc["packets"]]
    body = json.dumps(head, indent=1)[:-2]
    return body + ',\n "packets": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


def capture_once(workdir: Path) -> Path:
    traffic = generate(seed=SEED, count=COUNT, profile=PROFILE)
    with Lab() as lab:
        base = lab.tmpdir / "store"
        # Without --no_watchdogs, upstream aborts a few seconds after traffic
        # stops (its packet thread's watchdog is not fed while idle, issue
        # #94), before it seals a file without traffic.
        steno = UpstreamStenotype(lab, base, *FLAGS, "--no_watchdogs").start()
        time.sleep(1.0)
        result = lab.send((traffic.data, traffic.offsets), rate=RATE)
        if result.sent != COUNT:
            raise RuntimeError(f"sent {result.sent} of {COUNT}")
        steno.wait_sealed(COUNT)
        time.sleep(4.5)  # one more rotation: a sealed file without traffic
        steno.stop()
        out = workdir / "capture"
        shutil.copytree(base, out)
    return out


def main() -> int:
    traffic = generate(seed=SEED, count=COUNT, profile=PROFILE)
    by_bytes = {traffic.captured(i)[0]: i for i in range(COUNT)}
    work = Path("/tmp") / f"steno-upstream-data-{time.time_ns()}"
    work.mkdir()
    try:
        for attempt in range(3):
            cap = capture_once(work / str(attempt))
            full: list[tuple[str, int]] = []
            empty: list[tuple[str, int]] = []
            for path in sorted((cap / "PKT0").iterdir()):
                if path.name.startswith(".") or not (cap / "IDX0" / path.name).exists():
                    continue
                size = path.stat().st_size
                (full if size else empty).append((path.name, size))
            if len(full) == 1 and full[0][1] == BLOCK_SIZE and empty:
                break
            print(f"attempt {attempt}: files {full}, empty {empty}; again", file=sys.stderr)
        else:
            raise RuntimeError("could not get all frames into one block of one file")
        name = full[0][0]
        empty_name = empty[0][0]
        packets: list[dict[str, Any]] = []
        for p in stored_packets(cap / "PKT0" / name):
            i = by_bytes[p.frame]
            truth = traffic.truth(i)
            packets.append(
                {
                    "position": p.position,
                    "seq": i,
                    "caplen": len(p.frame),
                    "tp_len": p.wire_len,  # as the kernel reported it (tag stripped)
                    "outer_tag": None
                    if truth.outer_tag is None
                    else {"tpid": truth.outer_tag.tpid, "tci": truth.outer_tag.tci},
                    "case": truth.case,
                    "keys": truth.keys_json(),
                    "upstream_keys": keys_json(upstream_keys_of(p.frame)),
                }
            )
        if sorted(q["seq"] for q in packets) != list(range(COUNT)):
            raise RuntimeError("the packet file does not hold every frame exactly once")
        for sub in ("PKT0", "IDX0"):
            shutil.rmtree(HERE / sub, ignore_errors=True)
            (HERE / sub).mkdir()
            for n in (name, empty_name):
                shutil.copyfile(cap / sub / n, HERE / sub / n)
        doc = {
            "about": "captured by Debian's stenotype 1.0.1; regenerate with make.py",
            "generator": {"seed": SEED, "profile": PROFILE, "count": COUNT, "rate": RATE},
            "stenotype_flags": [*FLAGS, "--no_watchdogs"],
            "block_size": BLOCK_SIZE,
            "file": name,
            "empty_file": empty_name,
            "packets": packets,
        }
        (HERE / "truth.json").write_text(dump(doc))
        print(f"{name}: {len(packets)} packets; empty file {empty_name}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
