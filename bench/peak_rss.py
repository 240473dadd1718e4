"""Peak resident memory of a running process (``VmHWM`` of ``/proc/PID/status``).

``VmHWM`` is the kernel's own high-water mark, so sampling only has to catch
the last value before the process goes away: a background thread reads it
every ``interval`` until the process has exited (reading fails) or
:meth:`PeakRss.close` is called.  Both stenotypes lock their capture ring
(``MAP_LOCKED``), so the ring counts in full; tcpdump's libpcap ring counts as
far as it was touched.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType


def read_hwm_kib(proc_dir: int) -> int | None:
    """VmHWM in KiB of the process whose ``/proc/PID`` directory is open as
    proc_dir, or None once it has exited (a zombie has no memory lines)."""
    try:
        fd = os.open("status", os.O_RDONLY, dir_fd=proc_dir)
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        text = os.read(fd, 8192).decode(errors="replace")
    except ProcessLookupError:
        return None
    finally:
        os.close(fd)
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


class PeakRss:
    """Follows one process's VmHWM in a daemon thread."""

    def __init__(self, pid: int, *, interval: float = 0.02) -> None:
        self.pid = pid
        # The directory stays bound to this process even if its PID is reused.
        self._proc_dir = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY)
        self._interval = interval
        self._peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"peak-rss-{pid}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def sample(self) -> int:
        """Reads VmHWM now; returns the peak so far in KiB."""
        kib = read_hwm_kib(self._proc_dir)
        if kib is not None and kib > self._peak_kib:
            self._peak_kib = kib
        return self._peak_kib

    @property
    def peak_kib(self) -> int:
        return self._peak_kib

    def close(self) -> int:
        """Stops sampling; returns the peak in KiB."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            os.close(self._proc_dir)
        return self._peak_kib

    def __enter__(self) -> PeakRss:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
