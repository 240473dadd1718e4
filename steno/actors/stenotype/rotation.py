"""When a capture thread starts a new file: upstream's rules, as pure functions.

A file ends when it is ``--fileage_sec`` old, when it holds ``--filesize_mb``
(the native loop reports FILE_FULL), or when its in-memory index passes its
budget (INDEX_FULL, steno's own guard against traffic that makes every packet
a new flow).  Upstream rotated once the age in *whole seconds* exceeded the
limit, so files lasted 61-62 s; here a file ends at the limit.  An idle link
still rotates: a file with no blocks is sealed empty, as upstream, so whoever
watches for new files (upstream's stenographer restarts stenotype when none
appear for five minutes) sees the capture is alive.
"""

from __future__ import annotations

import attrs

from steno.native.capture import RunStatus

ROTATING_STATUSES = frozenset({RunStatus.FILE_FULL, RunStatus.INDEX_FULL})


@attrs.frozen
class RotationPolicy:
    max_age_ns: int
    poll_ns: int = 250_000_000
    """How long the native loop runs at most before Python looks again."""

    def due(self, opened_ns: int, now_ns: int, status: RunStatus) -> bool:
        return status in ROTATING_STATUSES or now_ns - opened_ns >= self.max_age_ns

    def deadline(self, opened_ns: int, now_ns: int) -> int:
        """When the native loop should hand back control next (CLOCK_MONOTONIC ns)."""
        return min(opened_ns + self.max_age_ns, now_ns + self.poll_ns)
