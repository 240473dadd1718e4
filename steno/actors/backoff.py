"""Restart delays: exponential, capped, reset after a good run (pure).

Used by the supervisor for actors and by the capture actor for the stenotype
process.  Upstream's stenographer exited when stenotype died within its first
minute and left crash-loop protection to the init system; steno keeps the
daemon (and its query service) up and retries capture with growing delays,
so a wrong interface name or a missing permission costs log lines, not the
service.
"""

from __future__ import annotations

import attrs


@attrs.define
class Backoff:
    first: float = 1.0
    cap: float = 60.0
    good_run: float = 60.0
    """A child that ran at least this long starts over at `first`."""
    _next: float = attrs.field(init=False, default=0.0)

    def after_exit(self, ran_for: float) -> float:
        """The delay before the next start, given how long the last run lasted."""
        if ran_for >= self.good_run or self._next == 0.0:
            self._next = self.first
        else:
            self._next = min(self._next * 2, self.cap)
        return self._next
