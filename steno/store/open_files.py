"""Which store files queries hold open, and how many at most (``MaxOpenFiles``).

Queries map packet files and index files while they read them.  Two things
need to know which: retention, because a deleted file that is still mapped
keeps its space until the query lets go (upstream counted that space as
free, deleted more, and deleted too much, issue #189); and the open-file
limit, which upstream enforced with a cache of descriptors.  Here every query
holds each file through :meth:`OpenFiles.hold`, which waits while
``limit`` files are already held (queries run in worker threads, so waiting
blocks only the query).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class OpenFiles:
    def __init__(self, limit: int = 100_000) -> None:
        self.limit = max(1, limit)
        self._held: Counter[Path] = Counter()
        self._slots = threading.BoundedSemaphore(self.limit)
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, *paths: Path, timeout: float = 600.0) -> Iterator[None]:
        """Marks paths as open for the duration (one slot of the limit each)."""
        taken = 0
        try:
            for _ in paths:
                if not self._slots.acquire(timeout=timeout):
                    raise TimeoutError("too many store files open at once (MaxOpenFiles)")
                taken += 1
        except BaseException:
            for _ in range(taken):
                self._slots.release()
            raise
        with self._lock:
            self._held.update(paths)
        try:
            yield
        finally:
            with self._lock:
                self._held.subtract(paths)
                self._held += Counter()  # drops the zero counts
            for _ in paths:
                self._slots.release()

    def held(self, paths: Iterable[Path]) -> list[Path]:
        """Those of `paths` that some query holds open now."""
        with self._lock:
            return [p for p in paths if self._held[p] > 0]
