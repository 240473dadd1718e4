"""``stenographer [-config FILE] [-syslog] [-v INT]``: the daemon, as upstream's.

Flags are Go-style, as in upstream's man page: one or two dashes,
``-name=value`` or ``-name value`` (``-syslog`` alone means true,
``-syslog=false`` off).  Logs go to syslog with ``-syslog``; else, when
systemd connected stderr to the journal (``JOURNAL_STREAM``), to journald
with structured fields (``steno/journal.py``); otherwise to stderr.  Upstream
logged to syslog unless told not to; steno's default keeps ``journalctl -u
stenographer`` complete without a syslog daemon.  ``-v``: below 2, notable
events (INFO and up); 2 and up, debugging.

Before anything else the daemon reads what systemd passed
(``steno.systemd``) and, when not root, clears its effective capabilities
(``steno.capabilities``): only stenotype uses them.  ``STENO_TEST_HOOKS=1``
in the environment enables the test-only ``/debug/hang``.

Exit status: 0 after SIGTERM; 1 when start-up fails (the message names the
config key, file or address); 2 for bad flags.
"""

from __future__ import annotations

import functools
import logging
import logging.handlers
import os
import sys
from collections.abc import Sequence

import attrs
import trio

from steno import capabilities
from steno import config as steno_config
from steno.actors.daemon import run_daemon
from steno.actors.supervisor import EscalatedFailure
from steno.journal import JournaldHandler
from steno.systemd import ServiceEnvironment, service_environment
from steno.tls import TlsSetupError

DEFAULT_CONFIG = "/etc/stenographer/config"


@attrs.frozen
class Flags:
    config: str = DEFAULT_CONFIG
    syslog: bool = False
    verbosity: int = -1


class FlagError(Exception):
    pass


def _bool(name: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise FlagError(f"invalid boolean value {text!r} for -{name}")


def parse_flags(argv: Sequence[str]) -> Flags:
    values: dict[str, object] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "-help", "--help"):
            raise FlagError("usage")
        if not arg.startswith("-") or arg in ("-", "--"):
            raise FlagError(f"unexpected argument {arg!r}")
        name, eq, value = arg.lstrip("-").partition("=")
        if name == "config":
            if not eq:
                if not args:
                    raise FlagError("flag needs an argument: -config")
                value = args.pop(0)
            values["config"] = value
        elif name == "syslog":
            values["syslog"] = _bool(name, value) if eq else True
        elif name == "v":
            if not eq:
                if not args:
                    raise FlagError("flag needs an argument: -v")
                value = args.pop(0)
            try:
                values["verbosity"] = int(value)
            except ValueError:
                raise FlagError(f"invalid value {value!r} for flag -v") from None
        else:
            raise FlagError(f"flag provided but not defined: -{name}")
    return Flags(**values)  # type: ignore[arg-type]


USAGE = """usage: stenographer [-config FILE] [-syslog[=false]] [-v INT]
  -config FILE   configuration (default /etc/stenographer/config)
  -syslog        log to syslog instead of stderr
  -v INT         verbosity: 0 and below notable events, 1 more, 2 and up debugging
"""


TEST_HOOKS_ENV = "STENO_TEST_HOOKS"


def configure_logging(flags: Flags, *, journal: bool = False) -> None:
    root = logging.getLogger("steno")
    root.handlers.clear()
    if flags.syslog:
        handler: logging.Handler = logging.handlers.SysLogHandler(
            address="/dev/log", facility=logging.handlers.SysLogHandler.LOG_USER
        )
        handler.setFormatter(logging.Formatter("stenographer: %(message)s"))
    elif journal:
        handler = JournaldHandler("stenographer")
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if flags.verbosity >= 2 else logging.INFO)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    try:
        flags = parse_flags(sys.argv[1:] if argv is None else argv)
    except FlagError as exc:
        if str(exc) != "usage":
            print(f"stenographer: {exc}", file=sys.stderr)
        print(USAGE, end="", file=sys.stderr)
        return 2
    service = service_environment()
    to_journal = service.journal and not flags.syslog
    configure_logging(flags, journal=to_journal)
    log = logging.getLogger("steno.daemon")
    try:
        caps = capabilities.drop_effective()
        if caps.ambient:
            log.info(
                "Capabilities %#x kept for stenotype only (ambient); none effective here",
                caps.ambient,
            )
        config = steno_config.load(flags.config, warn=log.warning)
        steno_config.check_directories(config, source=flags.config)
        failures = _run(config, service, test_hooks=os.environ.get(TEST_HOOKS_ENV) == "1")
    except (steno_config.ConfigError, TlsSetupError, OSError) as exc:
        failures = [str(exc)]
    for message in failures:
        if not to_journal:
            print(f"stenographer: {message}", file=sys.stderr)
        log.error("%s", message)
    return 1 if failures else 0


def _run(
    config: steno_config.Config, service: ServiceEnvironment, *, test_hooks: bool = False
) -> list[str]:
    """Runs the daemon; the messages of what ended it, if it failed."""
    failures: list[str] = []
    try:
        trio.run(functools.partial(run_daemon, config, service=service, test_hooks=test_hooks))
    except* (TlsSetupError, OSError, EscalatedFailure) as group:
        failures = [str(e) for e in _leaves(group)]
    return failures


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


if __name__ == "__main__":
    sys.exit(main())
