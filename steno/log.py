"""Log lines in upstream stenotype's format, on stderr.

Upstream's stenographer copies its child's stderr into syslog line by line, and
tools such as Security Onion parse stenotype's lines (the per-thread stats line
above all), so stenotype keeps the shape::

    2026-11-26T21:52:04.123456Z T:7f3a2c [worker.py:88] message

Verbosity follows upstream: errors always, INFO with ``-v``, DEBUG with ``-vv``.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO


class UpstreamFormatter(logging.Formatter):
    """``<UTC time with µs>Z T:<thread> [file:line] message``."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        micros = int((record.created - seconds) * 1_000_000)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        tid = (record.thread or threading.get_ident()) >> 8 & 0xFFFFFFFF
        filename = record.filename
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return f"{stamp}.{micros:06d}Z T:{tid:06x} [{filename}:{record.lineno}] {message}"


def level_for(verbosity: int) -> int:
    if verbosity <= 0:
        return logging.WARNING
    if verbosity == 1:
        return logging.INFO
    return logging.DEBUG


def configure(verbosity: int, stream: TextIO | None = None) -> None:
    """Sends steno's log records to stderr (or `stream`) in upstream's format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(UpstreamFormatter())
    root = logging.getLogger("steno")
    root.handlers[:] = [handler]
    root.setLevel(level_for(verbosity))
    root.propagate = False
