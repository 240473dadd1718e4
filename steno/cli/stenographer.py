"""``stenographer [-config FILE] [-syslog] [-v INT]``: the daemon, as upstream's.

Flags are Go-style, as in upstream's man page: one or two dashes,
``-name=value`` or ``-name value`` (``-syslog`` alone means true,
``-syslog=false`` off).  Logs go to syslog with ``-syslog``, otherwise to
stderr (which systemd sends to the journal).  Upstream logged to syslog
unless told not to; steno's default is stderr so that ``journalctl -u
stenographer`` shows everything without a syslog daemon.

Exit status: 0 after SIGTERM; 1 when start-up fails (the message names the
config key, file or address); 2 for bad flags.
"""

from __future__ import annotations

import functools
import logging
import logging.handlers
import sys
from collections.abc import Sequence

import attrs
import trio

from steno import config as steno_config
from steno.actors.daemon import run_daemon
from steno.actors.supervisor import EscalatedFailure
from steno.systemd import listen_sockets
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


def configure_logging(flags: Flags) -> None:
    root = logging.getLogger("steno")
    root.handlers.clear()
    if flags.syslog:
        handler: logging.Handler = logging.handlers.SysLogHandler(
            address="/dev/log", facility=logging.handlers.SysLogHandler.LOG_USER
        )
        handler.setFormatter(logging.Formatter("stenographer: %(message)s"))
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
    configure_logging(flags)
    log = logging.getLogger("steno.daemon")
    try:
        config = steno_config.load(flags.config, warn=log.warning)
        steno_config.check_directories(config, source=flags.config)
        failures = _run(config)
    except (steno_config.ConfigError, TlsSetupError, OSError) as exc:
        failures = [str(exc)]
    for message in failures:
        print(f"stenographer: {message}", file=sys.stderr)
        log.error("%s", message)
    return 1 if failures else 0


def _run(config: steno_config.Config) -> list[str]:
    """Runs the daemon; the messages of what ended it, if it failed."""
    failures: list[str] = []
    try:
        trio.run(functools.partial(run_daemon, config, sockets=listen_sockets()))
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
