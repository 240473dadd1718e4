"""bench.report: the zero-loss rate and the verdicts on targets, from made-up points."""

from __future__ import annotations

from bench.capturers import StopOutcome
from bench.report import ZeroLoss, _zero_loss_met, zero_loss_rate
from bench.stored import Stored
from bench.trial import Point


def point(offered: int | None, loss: int, *, achieved: float | None = None) -> Point:
    sent = 1_000_000
    return Point(
        capturer="steno",
        profile="small",
        budget=None,
        offered_pps=offered,
        sent=sent,
        send_seconds=1.0,
        achieved_pps=achieved if achieved is not None else float(offered or 0),
        stored=sent - loss,
        cpu_ns=1,
        cpu_user_ns=1,
        cpu_sys_ns=0,
        peak_rss_kib=1,
        files=Stored(
            packets=sent - loss,
            packet_file_bytes=0,
            packet_files=1,
            hidden_packet_files=0,
            index_bytes=0,
            index_files=0,
            bad_blocks=0,
        ),
        stop=StopOutcome(returncode=0, how="exited"),
        catch_up_seconds=0.0,
        throttling=None,
        sender_retries=0,
    )


def test_highest_clean_rate_below_the_first_losses() -> None:
    zl = zero_loss_rate([point(100_000, 0), point(200_000, 0), point(300_000, 5)])
    assert zl == ZeroLoss(pps=200_000, sender_bound=False, non_monotonic=False)


def test_a_clean_top_rate_leaves_the_ceiling_open() -> None:
    zl = zero_loss_rate([point(100_000, 0), point(None, 0, achieved=450_000.0)])
    assert zl.pps == 450_000 and zl.sender_bound
    assert zl.text() == "≥ 450k"


def test_a_lossy_lower_rate_is_flagged() -> None:
    zl = zero_loss_rate([point(100_000, 3), point(200_000, 0), point(300_000, 9)])
    assert zl.pps == 200_000 and zl.non_monotonic and zl.text() == "200k *"


def test_no_clean_rate() -> None:
    assert zero_loss_rate([point(100_000, 1)]).pps is None


def zl(pps: float | None, bound: bool = False) -> ZeroLoss:
    return ZeroLoss(pps=pps, sender_bound=bound, non_monotonic=False)


def test_verdicts() -> None:
    assert _zero_loss_met(zl(250_000), zl(200_000)) is True
    assert _zero_loss_met(zl(240_000), zl(200_000)) is False
    # Upstream's ceiling unknown (>= 200k): only a shortfall can be decided.
    assert _zero_loss_met(zl(300_000), zl(200_000, bound=True)) is None
    assert _zero_loss_met(zl(220_000), zl(200_000, bound=True)) is False
    # Ours unknown (>= 220k): not enough yet, but it might be.
    assert _zero_loss_met(zl(220_000, bound=True), zl(200_000)) is None
    assert _zero_loss_met(zl(None), zl(200_000)) is False
    assert _zero_loss_met(zl(100_000), zl(None)) is True


def test_a_sender_that_fell_short_counts_with_what_it_achieved() -> None:
    # No loss anywhere: the ceiling is open, at the highest rate really offered.
    zl = zero_loss_rate([point(300_000, 0), point(400_000, 0, achieved=292_000.0)])
    assert zl.pps == 300_000 and zl.sender_bound
    zl = zero_loss_rate([point(300_000, 9), point(400_000, 0, achieved=330_000.0)])
    assert zl.pps == 330_000 and zl.sender_bound
