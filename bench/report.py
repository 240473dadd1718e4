"""From raw points to the figures: per capturer, per profile, per mode; ratios
against upstream's stenotype; the targets; a Markdown report.

Definitions (also in ``bench/README.md``):

* **zero-loss rate**: the highest offered rate at which the capturer stored
  every packet sent.  An unpaced point ("max") counts with the rate the
  sender achieved; if a capturer lost nothing even at the highest rate tried
  (the sender's top speed, or the top of the ladder), its zero-loss rate is
  marked ">=": the benchmark could not find its ceiling.
* **CPU s / Mpkt**: CPU time of the capturer's cgroup from the start of
  sending to its exit, per million packets stored, summed over the
  unconfined paced rates that every capturer ran (the same offered packets
  for all three).
* **CPU slope**: the marginal cost, the least-squares slope of CPU time
  against packets stored over the same points; fixed costs (the idle second
  before sending, exit) drop out.
* **peak RSS**: the largest VmHWM of any point of that mode.
* **index bytes / Mpkt** and **index % of packet files**: over the same
  points as CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from bench.trial import Failed, Point

UNCONFINED = "unconfined"
BASELINE = "upstream"


def mode_of(budget: float | None) -> str:
    return UNCONFINED if budget is None else f"{budget * 100:g} % of one CPU"


@attrs.frozen(kw_only=True)
class ZeroLoss:
    pps: float | None
    """None: lost packets at every rate."""
    sender_bound: bool
    """No loss at the highest rate tried (the sender's top speed or the top of
    the ladder): the capturer's ceiling is higher and unknown."""
    non_monotonic: bool
    """Some lower rate lost packets (noise, or a hiccup)."""

    def text(self) -> str:
        if self.pps is None:
            return "none"
        s = f"{'≥ ' if self.sender_bound else ''}{self.pps / 1000:.0f}k"
        return s + (" *" if self.non_monotonic else "")


@attrs.frozen(kw_only=True)
class Figures:
    capturer: str
    profile: str
    mode: str
    zero_loss: ZeroLoss
    cpu_s_per_mpkt: float | None
    cpu_points: int
    cpu_slope_s_per_mpkt: float | None
    """Marginal CPU per packet: the least-squares slope of CPU time against packets
    stored over the same points, free of fixed costs (start of sending, exit)."""
    peak_rss_mib: float
    index_bytes_per_mpkt: float | None
    index_pct_of_packet_files: float | None
    index_pct_of_frame_bytes: float | None

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def zero_loss_rate(points: Sequence[Point]) -> ZeroLoss:
    def rate(p: Point) -> float:
        # Where the sender fell short of the offered rate, what it achieved.
        if p.offered_pps is None or p.achieved_pps < 0.97 * p.offered_pps:
            return p.achieved_pps
        return float(p.offered_pps)

    ordered = sorted(points, key=rate)
    clean = [p for p in ordered if p.loss == 0]
    if not clean:
        return ZeroLoss(pps=None, sender_bound=False, non_monotonic=False)
    best = clean[-1]
    return ZeroLoss(
        pps=rate(best),
        # Nothing above it was tried: the real ceiling is higher.
        sender_bound=best is ordered[-1],
        non_monotonic=any(p.loss for p in ordered if rate(p) < rate(best)),
    )


def common_rates(points: Iterable[Point], capturers: Sequence[str]) -> set[int]:
    """Paced rates that every capturer ran (whatever it lost): the same offered
    packets for all, the basis of CPU and index figures."""
    by_rate: dict[int, set[str]] = {}
    for p in points:
        if p.offered_pps is not None:
            by_rate.setdefault(p.offered_pps, set()).add(p.capturer)
    return {r for r, who in by_rate.items() if who >= set(capturers)}


def figures(
    points: Sequence[Point],
    *,
    capturer: str,
    profile: str,
    budget: float | None,
    mean_frame: float,
    cpu_rates: set[int] | None,
) -> Figures:
    mine = [
        p for p in points if p.capturer == capturer and p.profile == profile and p.budget == budget
    ]
    paced = [p for p in mine if p.offered_pps is not None]
    basis = [p for p in paced if cpu_rates is None or p.offered_pps in cpu_rates]
    stored = sum(p.stored for p in basis)
    cpu = sum(p.cpu_ns for p in basis) / 1e9
    index = sum(p.files.index_bytes for p in basis)
    files = sum(p.files.packet_file_bytes for p in basis)
    has_index = capturer != "tcpdump"
    return Figures(
        capturer=capturer,
        profile=profile,
        mode=mode_of(budget),
        zero_loss=zero_loss_rate(mine),
        cpu_s_per_mpkt=cpu / (stored / 1e6) if stored else None,
        cpu_points=len(basis),
        cpu_slope_s_per_mpkt=_slope([(p.stored / 1e6, p.cpu_ns / 1e9) for p in basis]),
        peak_rss_mib=max((p.peak_rss_kib for p in mine), default=0) / 1024,
        index_bytes_per_mpkt=index / (stored / 1e6) if stored and has_index else None,
        index_pct_of_packet_files=100 * index / files if files and has_index else None,
        index_pct_of_frame_bytes=(
            100 * index / (stored * mean_frame) if stored and has_index else None
        ),
    )


def _slope(xy: Sequence[tuple[float, float]]) -> float | None:
    if len({x for x, _ in xy}) < 2:
        return None
    mx = sum(x for x, _ in xy) / len(xy)
    my = sum(y for _, y in xy) / len(xy)
    sxx = sum((x - mx) ** 2 for x, _ in xy)
    return sum((x - mx) * (y - my) for x, y in xy) / sxx


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def _ratio_text(a: float | None, b: float | None) -> str:
    r = ratio(a, b)
    return "" if r is None else f" ({r:.2f}x)"


@attrs.frozen(kw_only=True)
class Target:
    profile: str
    what: str
    goal: str
    value: str
    met: bool | None
    """None: the run could not decide (e.g. the sender could not find a ceiling)."""

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def targets(all_figures: Sequence[Figures], budget: float | None) -> list[Target]:
    out: list[Target] = []
    by = {(f.capturer, f.profile, f.mode): f for f in all_figures}
    profiles = sorted({f.profile for f in all_figures}, key=lambda p: (p != "small", p))
    for profile in profiles:
        for mode in [mode_of(None)] + ([mode_of(budget)] if budget is not None else []):
            ours, up = by.get(("steno", profile, mode)), by.get((BASELINE, profile, mode))
            if ours is None or up is None:
                continue
            zl = ratio(ours.zero_loss.pps, up.zero_loss.pps)
            out.append(
                Target(
                    profile=profile,
                    what=f"zero-loss rate ({mode})",
                    goal="≥ 1.25x upstream",
                    value=(
                        f"{ours.zero_loss.text()} vs {up.zero_loss.text()}"
                        + ("" if zl is None else f" = {zl:.2f}x")
                    ),
                    met=_zero_loss_met(ours.zero_loss, up.zero_loss),
                )
            )
        ours, up = by.get(("steno", profile, UNCONFINED)), by.get((BASELINE, profile, UNCONFINED))
        if ours is None or up is None:
            continue
        r = ratio(ours.cpu_s_per_mpkt, up.cpu_s_per_mpkt)
        out.append(
            Target(
                profile=profile,
                what="CPU s per Mpkt",
                goal="≤ 0.7x upstream",
                value=f"{_fmt(ours.cpu_s_per_mpkt, '.3f')} vs {_fmt(up.cpu_s_per_mpkt, '.3f')}"
                + ("" if r is None else f" = {r:.2f}x"),
                met=None if r is None else r <= 0.7,
            )
        )
        r = ratio(ours.index_bytes_per_mpkt, up.index_bytes_per_mpkt)
        out.append(
            Target(
                profile=profile,
                what="index bytes per Mpkt",
                goal="≤ 0.5x upstream",
                value=f"{_fmt(_mb(ours.index_bytes_per_mpkt), '.2f')} MB vs "
                f"{_fmt(_mb(up.index_bytes_per_mpkt), '.2f')} MB"
                + ("" if r is None else f" = {r:.2f}x"),
                met=None if r is None else r <= 0.5,
            )
        )
        if profile == "imix":
            pct = ours.index_pct_of_packet_files
            out.append(
                Target(
                    profile=profile,
                    what="index size vs packet bytes",
                    goal="≤ 1 % of packet-file bytes",
                    value=f"{_fmt(pct, '.2f')} % of packet files "
                    f"({_fmt(ours.index_pct_of_frame_bytes, '.2f')} % of frame bytes)",
                    met=None if pct is None else pct <= 1.0,
                )
            )
    return out


def _zero_loss_met(ours: ZeroLoss, up: ZeroLoss, goal: float = 1.25) -> bool | None:
    """Whether ours >= goal x upstream; None when a sender-bound ">=" leaves it open."""
    if ours.pps is None:
        return False if up.pps is not None else None
    if up.pps is None:
        return True  # upstream lost packets at every rate, ours did not
    meets = ours.pps >= goal * up.pps
    if up.sender_bound:
        return None if meets or ours.sender_bound else False
    if ours.sender_bound and not meets:
        return None
    return meets


def _mb(x: float | None) -> float | None:
    return None if x is None else x / 1e6


def _met_text(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "undecided"}[met]


def markdown(
    *,
    meta: dict[str, Any],
    points: Sequence[Point],
    failed: Sequence[Failed],
    all_figures: Sequence[Figures],
    target_list: Sequence[Target],
    capturers: Sequence[str],
    budget: float | None,
    profile_titles: dict[str, str],
) -> str:
    lines: list[str] = []
    add = lines.append
    add("# Capture benchmark: steno vs upstream stenotype vs tcpdump -w")
    add("")
    m = meta["machine"]
    add(
        f"{meta['started']} · {m['cpu']} · {m['cpus']} CPUs · {m['memory_gib']:.0f} GiB · "
        f"kernel {m['kernel']} · {meta['mode']} run"
    )
    add("")
    add(
        "**Caveat:** sender and capturer share the machine's two cores, on a noisy VM; the "
        "kernel's copy of each frame into the capture ring is charged to the sender. Compare "
        "ratios within this run, not absolute rates across runs."
    )
    add("")
    add(f"Capturers: {'; '.join(f'{k}: {v}' for k, v in meta['versions'].items())}.")
    add(f"Ring: {meta['ring']}. Each point sends for {meta['seconds']:g} s.")
    if meta.get("steno_index") == "stub":
        add("")
        add(
            "**steno ran with a placeholder index builder** (the real one was not merged "
            "yet): its CPU and index figures leave out indexing and mean nothing."
        )
    add("")
    add("## Targets (steno vs upstream, ratios from this run)")
    add("")
    add("| profile | what | goal | this run | |")
    add("|---|---|---|---|---|")
    for t in target_list:
        add(
            f"| {profile_titles.get(t.profile, t.profile)} | {t.what} | {t.goal} | {t.value} "
            f"| {_met_text(t.met)} |"
        )
    add("")
    by = {(f.capturer, f.profile, f.mode): f for f in all_figures}
    profiles = sorted({f.profile for f in all_figures}, key=lambda p: (p != "small", p))
    modes = [mode_of(None)] + ([mode_of(budget)] if budget is not None else [])
    for profile in profiles:
        add(f"## {profile_titles.get(profile, profile)}")
        add("")
        add(
            "| capturer | zero-loss rate, unconfined | zero-loss rate, "
            f"{mode_of(budget) if budget else '-'} | CPU s / Mpkt | CPU slope s / Mpkt | "
            "peak RSS MiB | index MB / Mpkt | index % of packet files |"
        )
        add("|---|---|---|---|---|---|---|---|")
        for cap in capturers:
            u = by.get((cap, profile, modes[0]))
            if u is None:
                continue
            b = by.get((cap, profile, modes[-1])) if budget is not None else None
            bu = by.get((BASELINE, profile, modes[0]))
            bb = by.get((BASELINE, profile, modes[-1])) if budget is not None else None
            vs_u = _Versus(cap, bu)
            cells = [
                cap,
                u.zero_loss.text() + vs_u(u, lambda f: f.zero_loss.pps),
                "-"
                if b is None
                else b.zero_loss.text() + _Versus(cap, bb)(b, lambda f: f.zero_loss.pps),
                _fmt(u.cpu_s_per_mpkt, ".3f") + vs_u(u, lambda f: f.cpu_s_per_mpkt),
                _fmt(u.cpu_slope_s_per_mpkt, ".3f") + vs_u(u, lambda f: f.cpu_slope_s_per_mpkt),
                f"{u.peak_rss_mib:.0f}" + vs_u(u, lambda f: f.peak_rss_mib),
                _fmt(_mb(u.index_bytes_per_mpkt), ".2f")
                + vs_u(u, lambda f: f.index_bytes_per_mpkt),
                _fmt(u.index_pct_of_packet_files, ".2f"),
            ]
            add("| " + " | ".join(cells) + " |")
        add("")
        for mode in modes:
            mode_budget = None if mode == UNCONFINED else budget
            mine = [p for p in points if p.profile == profile and p.budget == mode_budget]
            if not mine:
                continue
            add(f"Loss at each rate, {mode} (loss %, achieved rate if the sender fell short):")
            add("")
            add("| offered | " + " | ".join(capturers) + " |")
            add("|---|" + "---|" * len(capturers))
            offered = sorted({p.offered_pps for p in mine if p.offered_pps is not None})
            rows: list[int | None] = [*offered]
            if any(p.offered_pps is None for p in mine):
                rows.append(None)
            for rate in rows:
                cells = []
                for cap in capturers:
                    p = next((x for x in mine if x.capturer == cap and x.offered_pps == rate), None)
                    f = next(
                        (
                            x
                            for x in failed
                            if x.capturer == cap
                            and x.profile == profile
                            and x.budget == mode_budget
                            and x.offered_pps == rate
                        ),
                        None,
                    )
                    cells.append(_loss_cell(p, rate) if p else ("failed" if f else "-"))
                label = "max" if rate is None else f"{rate / 1000:g}k"
                add(f"| {label} | " + " | ".join(cells) + " |")
            add("")
    if failed:
        add("## Points that failed")
        add("")
        for f in failed:
            add(f"- {f.capturer} {f.profile} {mode_of(f.budget)} {f.offered_pps}: {f.error}")
        add("")
    add("Definitions: `bench/README.md`. Raw measurements: the JSON file beside this one.")
    add("")
    return "\n".join(lines)


@attrs.frozen
class _Versus:
    """ " (0.63x)": a capturer's figure as a ratio of upstream's (nothing for upstream)."""

    capturer: str
    baseline: Figures | None

    def __call__(self, mine: Figures, field: Callable[[Figures], float | None]) -> str:
        if self.capturer == BASELINE or self.baseline is None:
            return ""
        return _ratio_text(field(mine), field(self.baseline))


def _loss_cell(p: Point, rate: int | None) -> str:
    loss = "0" if p.loss == 0 else f"{p.loss_pct:.2f} %"
    short = rate is None or p.achieved_pps < 0.97 * rate
    return f"{loss} @ {p.achieved_pps / 1000:.0f}k" if short else loss
