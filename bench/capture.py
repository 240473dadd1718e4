"""``python -m bench.capture``: steno's stenotype vs upstream's vs ``tcpdump -w``.

One run, one lab, the same generated traffic for all three: for each profile
(64-byte frames, IMIX) the traffic is generated once, then offered at rising
rates to each capturer in turn, first unconfined, then with each capturer
confined to the same small CPU budget (a cgroup quota), where its own ceiling
falls inside what one sender can offer.  At each rate the order of the
capturers rotates, so that a slow patch of the (shared, noisy) machine does
not always hit the same one.  A rate at which a capturer lost packets is
measured once more, and the better trial counts; a capturer stops climbing
after two lossy rates in a row.

Output: ``<out>.json`` (every raw measurement) and ``<out>.md`` (the tables,
ratios against upstream and the targets), and the Markdown on stdout.  See
``bench/README.md`` for what each number means.

Needs root (network namespace, raw sockets, cgroups), cgroup v1 ``cpu`` and
``cpuacct``, Debian's ``stenographer`` package and ``tcpdump``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import report
from bench.capturers import CAPTURERS, Capturer, CapturerMissing, RingSpec
from bench.cgroup import CgroupError, controller_root
from bench.traffic import PROFILE_NAMES, Traffic, prepare
from bench.trial import Failed, Point, run_trial
from steno.lab.netns import Lab

UNCONFINED_RATES = (100_000, 200_000, 300_000, 400_000, 500_000, None)
# 1.25x apart, so that a capturer 1.25x faster than another is a step higher.
BUDGET_RATES = tuple(k * 1000 for k in (50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500))
QUICK_UNCONFINED_RATES = (100_000, None)
QUICK_BUDGET_RATES = (100_000, 250_000)
LOSSY_IN_A_ROW = 2


class BenchError(RuntimeError):
    """The benchmark cannot run here; the message says what is missing."""


def _rates(text: str) -> tuple[int | None, ...]:
    out: list[int | None] = []
    for item in text.split(","):
        item = item.strip().lower()
        if item == "max":
            out.append(None)
        elif item.endswith("k"):
            out.append(round(float(item[:-1]) * 1000))
        else:
            out.append(int(item))
    return tuple(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.capture", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run of about 2 to 3 minutes")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output path without suffix "
        "(default bench/results/capture, or capture-quick with --quick)",
    )
    p.add_argument("--profiles", default="small,imix", help="traffic profiles (default small,imix)")
    p.add_argument("--capturers", default="steno,upstream,tcpdump", help="which to run")
    p.add_argument(
        "--budget",
        type=float,
        default=0.05,
        help="CPU budget as a share of one CPU (default 0.05); 0 skips budget runs",
    )
    p.add_argument(
        "--rates",
        type=_rates,
        default=None,
        help="unconfined rates, e.g. 50k,100k,max (max: as fast as the sender can)",
    )
    p.add_argument(
        "--budget-rates", type=_rates, default=None, help="rising rates under the budget"
    )
    p.add_argument(
        "--seconds", type=float, default=None, help="sending time per point (5; quick 2)"
    )
    p.add_argument("--frames", type=int, default=300_000, help="distinct frames per profile")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--blocks", type=int, default=16, help="ring blocks of 1 MiB (default 16)")
    p.add_argument("--aiops", type=int, default=8, help="stenotype --aiops (default 8)")
    p.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="no measuring: render the figures and Markdown again from a run's JSON",
    )
    args = p.parse_args(argv)
    args.out_given = args.out
    args.rates = args.rates or (QUICK_UNCONFINED_RATES if args.quick else UNCONFINED_RATES)
    args.budget_rates = args.budget_rates or (QUICK_BUDGET_RATES if args.quick else BUDGET_RATES)
    args.seconds = args.seconds or (2.0 if args.quick else 5.0)
    args.out = args.out or Path("bench/results") / ("capture-quick" if args.quick else "capture")
    return args


def check_prerequisites(capturers: Sequence[Capturer]) -> None:
    if os.geteuid() != 0:
        raise BenchError("run as root: the lab needs a network namespace, raw sockets and cgroups")
    try:
        controller_root("cpu")
        controller_root("cpuacct")
    except CgroupError as exc:
        raise BenchError(str(exc)) from None
    for c in capturers:
        try:
            c.check()
        except CapturerMissing as exc:
            raise BenchError(str(exc)) from None


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": mem_kib / 2**20,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }


def steno_index_kind() -> str:
    """ "real", or "stub" while the index builder is still a placeholder on this branch."""
    source = Path(__file__).resolve().parent.parent / "steno/native/c/index_build.c"
    try:
        text = source.read_text(errors="replace")
    except FileNotFoundError:
        return "unknown"
    return "stub" if "stub" in text[:300].lower() else "real"


def run(args: argparse.Namespace) -> int:
    ring = RingSpec(blocks=args.blocks, aiops=args.aiops)
    names = [n.strip() for n in args.capturers.split(",")]
    unknown = [n for n in names if n not in CAPTURERS]
    if unknown:
        raise BenchError(f"unknown capturer(s) {unknown}; choose from {sorted(CAPTURERS)}")
    capturers = [CAPTURERS[n](ring) for n in names]
    check_prerequisites(capturers)
    budget = args.budget or None
    started = datetime.datetime.now(datetime.UTC)
    t_start = time.monotonic()
    points: list[Point] = []
    failed: list[Failed] = []
    second_trials: list[Point] = []
    traffic_info: list[dict[str, Any]] = []
    versions: dict[str, str] = {}
    argvs: dict[str, list[str]] = {}

    with Lab(prefix="steno-bench-") as lab:
        for c in capturers:
            versions[c.name] = c.version()
            argvs[c.name] = c.argv(lab, Path("<store>"))
        for profile in [p.strip() for p in args.profiles.split(",")]:
            t0 = time.monotonic()
            traffic = prepare(profile, seed=args.seed, frames=args.frames, directory=lab.tmpdir)
            traffic_info.append(traffic.describe())
            _say(
                f"{profile}: {traffic.frames} frames, mean {traffic.mean_frame:.0f} B, "
                f"generated in {time.monotonic() - t0:.1f} s"
            )
            modes: list[tuple[float | None, tuple[int | None, ...]]] = [(None, args.rates)]
            if budget is not None:
                modes.append((budget, args.budget_rates))
            for mode_budget, rates in modes:
                _sweep(
                    lab,
                    capturers,
                    traffic,
                    rates,
                    mode_budget,
                    args.seconds,
                    points,
                    failed,
                    second_trials,
                )
            traffic.pcap.unlink()

    meta = {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_s": round(time.monotonic() - t_start),
        "mode": "quick" if args.quick else "full",
        "command": " ".join(["python -m bench.capture", *sys.argv[1:]]),
        "machine": machine(),
        "versions": versions,
        "argv": argvs,
        "ring": f"{ring.blocks} x {ring.block_kib} KiB blocks (tcpdump -B {ring.bytes // 1024}), "
        f"--aiops={ring.aiops}, --blockage_sec={ring.blockage_sec}, "
        f"--fileage_sec={ring.fileage_sec}, --seccomp=kill",
        "seconds": args.seconds,
        "budget": budget,
        "steno_index": steno_index_kind(),
        "capturers": [c.name for c in capturers],
        "rates": list(args.rates),
        "budget_rates": list(args.budget_rates),
    }
    write_results(args.out, meta, traffic_info, points, failed, second_trials)
    return 0


def write_results(
    out: Path,
    meta: dict[str, Any],
    traffic_info: list[dict[str, Any]],
    points: list[Point],
    failed: list[Failed],
    second_trials: list[Point],
) -> None:
    """Figures, ratios and targets from the raw points; writes out.json and out.md."""
    capturer_names: list[str] = meta["capturers"]
    budget: float | None = meta["budget"]
    all_figures: list[report.Figures] = []
    for info in traffic_info:
        profile = info["profile"]
        unconfined = [p for p in points if p.profile == profile and p.budget is None]
        cpu_rates = report.common_rates(unconfined, capturer_names) or None
        for mode_budget in [None] + ([budget] if budget is not None else []):
            for name in capturer_names:
                all_figures.append(
                    report.figures(
                        points,
                        capturer=name,
                        profile=profile,
                        budget=mode_budget,
                        mean_frame=info["mean_frame_bytes"],
                        cpu_rates=cpu_rates,
                    )
                )
    target_list = report.targets(all_figures, budget)
    md = report.markdown(
        meta=meta,
        points=points,
        failed=failed,
        all_figures=all_figures,
        target_list=target_list,
        capturers=capturer_names,
        budget=budget,
        profile_titles=PROFILE_NAMES,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out_json = out.with_suffix(".json")
    out_md = out.with_suffix(".md")
    out_json.write_text(
        json.dumps(
            {
                "meta": meta,
                "traffic": traffic_info,
                "targets": [t.as_dict() for t in target_list],
                "figures": [f.as_dict() for f in all_figures],
                "points": [p.as_dict() for p in points],
                "failed": [f.as_dict() for f in failed],
                "second_trials": [p.as_dict() for p in second_trials],
            },
            indent=1,
        )
        + "\n"
    )
    out_md.write_text(md)
    print(md)
    _say(f"wrote {out_json} and {out_md} ({meta['elapsed_s'] / 60:.1f} min of measuring)")


def render(path: Path, out: Path | None) -> int:
    """Renders the figures and the Markdown again from a run's JSON (no measuring)."""
    d = json.loads(path.read_text())
    meta = d["meta"]
    meta.setdefault("capturers", list(meta["versions"]))
    points = [Point.from_dict(p) for p in d["points"]]
    failed = [Failed(**f) for f in d["failed"]]
    second = [Point.from_dict(p) for p in d.get("second_trials", [])]
    write_results(out or path.with_suffix(""), meta, d["traffic"], points, failed, second)
    return 0


def _sweep(
    lab: Lab,
    capturers: Sequence[Capturer],
    traffic: Traffic,
    rates: Sequence[int | None],
    budget: float | None,
    seconds: float,
    points: list[Point],
    failed: list[Failed],
    second_trials: list[Point],
) -> None:
    """Rising rates; at each, every capturer still climbing, in rotating order.

    A point that lost packets (or failed) is measured once more and the
    better trial counts: one hiccup of the VM should not set a capturer's
    ceiling.  The other trial is kept in ``second_trials``."""
    lossy_in_a_row = {c.name: 0 for c in capturers}
    for i, rate in enumerate(rates):
        climbing = [c for c in capturers if lossy_in_a_row[c.name] < LOSSY_IN_A_ROW]
        if not climbing:
            return
        shift = i % len(climbing)
        for c in climbing[shift:] + climbing[:shift]:
            tag = f"{traffic.profile}-{'u' if budget is None else 'b'}-{rate or 'max'}-{c.name}"
            trials: list[Point | Failed] = []
            for attempt in range(2):
                result = run_trial(
                    lab,
                    c,
                    traffic,
                    rate=rate,
                    seconds=seconds,
                    budget=budget,
                    workdir=lab.tmpdir,
                    tag=f"{tag}-{attempt}",
                )
                _report_trial(tag, result)
                trials.append(result)
                if isinstance(result, Point) and result.loss == 0:
                    break
            done = [t for t in trials if isinstance(t, Point)]
            if not done:
                failed.extend(t for t in trials[-1:] if isinstance(t, Failed))
                lossy_in_a_row[c.name] += 1
                continue
            best = min(done, key=lambda p: p.loss)
            points.append(best)
            second_trials.extend(t for t in done if t is not best)
            lossy_in_a_row[c.name] = lossy_in_a_row[c.name] + 1 if best.loss else 0


def _report_trial(tag: str, result: Point | Failed) -> None:
    if isinstance(result, Failed):
        _say(f"{tag}: FAILED {result.error}")
        return
    cpu = result.cpu_s_per_mpkt
    _say(
        f"{tag}: sent {result.sent} at {result.achieved_pps / 1000:.0f}k/s, "
        f"loss {result.loss_pct:.2f} %, CPU {'n/a' if cpu is None else f'{cpu:.3f}'} "
        f"s/Mpkt, RSS {result.peak_rss_kib // 1024} MiB, index {result.files.index_bytes} B"
    )


def _say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.render is not None:
            return render(args.render, args.out_given)
        return run(args)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
