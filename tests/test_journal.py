"""Log records as journald fields (the handler; the real journal is checked
under a real systemd in tests/e2e/test_systemd_units.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from systemd import journal

from steno.journal import JournaldHandler, priority


class Sent:
    """Records what systemd.journal.send would hand to sd_journal_sendv: the
    real send() formats the fields (and rejects bad types), only the last
    step is replaced."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []
        monkeypatch.setattr(journal, "sendv", self._sendv)

    def _sendv(self, *lines: str) -> None:
        fields = dict(line.split("=", 1) for line in lines)
        self.records.append((fields.pop("MESSAGE"), fields))


def logger_with(sent: Sent, name: str = "steno.capture") -> logging.Logger:
    handler = JournaldHandler("stenographer")
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger(name)
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG)
    log.propagate = False
    return log


def test_steno_fields_priority_identifier_and_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = Sent(monkeypatch)
    log = logger_with(sent)
    log.warning(
        "Thread %d: deleted %s",
        0,
        "/x/1",
        extra={"STENO_THREAD": 0, "STENO_FILE": "/x/1", "STENO_QUERY": None},
    )
    ((message, fields),) = sent.records
    assert message == "Thread 0: deleted /x/1"
    assert fields["PRIORITY"] == "4"
    assert fields["SYSLOG_IDENTIFIER"] == "stenographer"
    assert fields["STENO_ACTOR"] == "capture"
    assert fields["STENO_THREAD"] == "0"
    assert fields["STENO_FILE"] == "/x/1"
    assert "STENO_QUERY" not in fields  # None: left out
    assert fields["CODE_FUNC"] == "test_steno_fields_priority_identifier_and_actor"
    assert int(fields["CODE_LINE"]) > 0
    # A record's own attributes are not journal fields.
    assert all(k.isupper() for k in fields)


def test_priorities_follow_syslog() -> None:
    levels = [logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG]
    assert [priority(level) for level in levels] == [2, 3, 4, 6, 7]


def test_exceptions_are_part_of_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = Sent(monkeypatch)
    log = logger_with(sent, "steno.query")
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("failed")
    ((message, fields),) = sent.records
    assert message.startswith("failed\nTraceback")
    assert "ValueError: bad" in message
    assert fields["PRIORITY"] == "3"


def test_a_failing_sender_does_not_raise(capsys: pytest.CaptureFixture[str]) -> None:
    def broken(message: str, **fields: Any) -> None:
        raise OSError("journald is gone")

    handler = JournaldHandler(sender=broken)
    log = logging.getLogger("steno.test.broken")
    log.handlers[:] = [handler]
    log.propagate = False
    log.error("still fine")  # logging reports the failure on stderr, raises nothing
    assert "journald is gone" in capsys.readouterr().err
