"""The offered traffic: generated once per profile, then replayed at each rate.

``prepare`` runs the lab's seeded generator (``steno.lab.generator``) once per
profile and writes the frames to a pcap file; every point of the benchmark
then replays that same file with the lab's C sender (``python -m
steno.lab.send``), which goes round the file until it has sent the count it
was given.  A few hundred thousand distinct frames are enough: the sender
repeats them, and what a capturer does per packet does not depend on having
seen a frame before (an index keys on values, not on frames).

``send`` paces at a rate (the sender's schedule is exact on average, bursts
last at most 50 us), or with ``rate=None`` sends as fast as it can for the
point's duration.  The count it reports is exact: a frame the kernel refused
with ENOBUFS is retried, so ``sent`` frames really went out on ``gen0``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from steno.lab.generator import generate
from steno.lab.netns import Lab
from steno.lab.pcap import write_pcap_frames
from steno.native.sender import SendResult

PROFILE_NAMES = {"small": "64-byte", "imix": "IMIX"}


@attrs.frozen(kw_only=True)
class Traffic:
    """One profile's frames, on disk as a pcap file."""

    profile: str
    seed: int
    frames: int
    frame_bytes: int
    pcap: Path

    @property
    def mean_frame(self) -> float:
        """Mean frame length in bytes (without the 4-byte FCS)."""
        return self.frame_bytes / self.frames

    def describe(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "seed": self.seed,
            "distinct_frames": self.frames,
            "mean_frame_bytes": round(self.mean_frame, 1),
        }


def prepare(profile: str, *, seed: int, frames: int, directory: Path) -> Traffic:
    """Generates the profile's frames and writes them to ``directory/<profile>.pcap``."""
    generated = generate(seed, frames, profile)
    path = directory / f"{profile}.pcap"
    with open(path, "wb") as out:
        write_pcap_frames(out, generated.data, generated.offsets)
        # On disk now, not 30 s later when writeback would hit some capturer's point.
        out.flush()
        os.fsync(out.fileno())
    return Traffic(
        profile=profile,
        seed=seed,
        frames=len(generated),
        frame_bytes=generated.total_bytes,
        pcap=path,
    )


def send(lab: Lab, traffic: Traffic, *, rate: int | None, seconds: float) -> SendResult:
    """Sends ``traffic`` from gen0 for about ``seconds``: ``rate * seconds`` frames at
    ``rate`` frames/s, or as many as possible in ``seconds`` (rate None).

    Paced sends get extra time, so a sender that falls behind still sends its
    count (its achieved rate shows it); an unpaced one stops at ``seconds``."""
    if rate is None:
        count = 5_000_000 * max(1, round(seconds))  # more than any sender here can do
        limit = seconds
    else:
        count = max(1, round(rate * seconds))
        limit = seconds * 2 + 5
    return lab.send_pcap(traffic.pcap, count=count, rate=rate, max_seconds=limit)
