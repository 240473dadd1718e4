"""Log records to journald, with steno's structured fields.

When systemd runs the daemon, its stderr is a journal stream
(``JOURNAL_STREAM``; ``steno.systemd.journal_stream``).  Lines on that stream
become plain messages; records sent with the journal's native protocol keep
fields a reader can filter on::

    journalctl -u stenographer STENO_THREAD=0
    journalctl -u stenographer STENO_QUERY='port 53' -o json
    journalctl -u stenographer -p warning

Each record gets ``MESSAGE``, ``PRIORITY`` (syslog levels from logging's),
``SYSLOG_IDENTIFIER=stenographer``, ``STENO_ACTOR`` (the logger's last name:
capture, store, cleanup, query, notify, ...), ``CODE_FILE``/``CODE_LINE``/
``CODE_FUNC``, and whatever ``STENO_*`` fields the call passed in ``extra``:
``STENO_THREAD`` (capture thread), ``STENO_FILE`` (a packet or index file),
``STENO_QUERY``, ``STENO_REQUESTER``, ``STENO_OUTCOME``, ``STENO_PACKETS``
(queries), ``STENO_HUNG`` (actors withholding the watchdog).  Fields with
other names are not sent: a record's own attributes (``msg``, ``args``, ...)
are not journal fields.

If journald cannot be reached, libsystemd drops the record silently (it
returns success for a missing socket); the handler never raises into the
daemon.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from systemd import journal

FIELD_PREFIX = "STENO_"


def priority(levelno: int) -> int:
    """syslog priority for a logging level (CRITICAL → 2 ... DEBUG → 7)."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


class JournaldHandler(logging.Handler):
    """Sends records to journald with steno's fields (see the module docstring)."""

    def __init__(
        self,
        identifier: str = "stenographer",
        *,
        sender: Callable[..., Any] = journal.send,
    ) -> None:
        super().__init__()
        self._identifier = identifier
        self._send = sender

    def fields(self, record: logging.LogRecord) -> dict[str, str | int]:
        out: dict[str, str | int] = {
            "PRIORITY": str(priority(record.levelno)),
            "SYSLOG_IDENTIFIER": self._identifier,
            "STENO_ACTOR": record.name.rsplit(".", 1)[-1],
            "CODE_FILE": record.pathname,
            "CODE_LINE": record.lineno,  # journal.send formats it as an integer
            "CODE_FUNC": record.funcName,
        }
        for key, value in record.__dict__.items():
            if key.startswith(FIELD_PREFIX) and value is not None:
                out[key] = str(value)
        return out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            self._send(message, **self.fields(record))
        except Exception:
            self.handleError(record)
