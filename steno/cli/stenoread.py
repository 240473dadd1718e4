"""``stenoread [--limit-packets N] [--limit-bytes N] 'QUERY' [tcpdump args…]``.

Upstream's analyst tool, same arguments: the query goes to the server named
by ``$STENOGRAPHER_CONFIG`` (default ``/etc/stenographer/config``) as
``POST /query`` over mutual TLS, and the pcap that comes back is piped into
``tcpdump -r - -s 0 <tcpdump args>``, so ``-n``, ``-w FILE``, ``-c N`` and a
display filter work as they did.

What differs from upstream's shell script, for the analyst:

* a server error (a query that does not parse, bad limits) is printed as an
  error and tcpdump is not run; upstream fed the error text to tcpdump,
  which complained about a "bad dump file format";
* an answer the server could not finish is reported ("the answer is
  incomplete") and the exit status is 3, although tcpdump got and printed
  what did arrive;
* on a terminal, stderr shows how much has arrived;
* tcpdump stopping early (``-c 5``) ends the query quietly with tcpdump's
  status;
* the limit values are checked before asking (``0x``, ``0o``/``0``, ``0b``
  and ``_`` as the server reads them) and may also be written
  ``--limit-packets=N``.

Exit status: tcpdump's, or 1 for a usage, configuration, connection or server
error, or 3 for an incomplete answer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO

import attrs

from steno import client
from steno.config import ConfigError, client_settings, config_path

EXIT_ERROR = 1
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130
#: Upstream looked for tcpdump on PATH and in the sbin directories.
EXTRA_TCPDUMP_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")

USAGE = """\
usage: stenoread [--limit-packets N] [--limit-bytes N] 'QUERY' [tcpdump args...]

Asks Stenographer for the packets matching QUERY and pipes them to tcpdump;
all arguments after the query go to tcpdump.

Examples:
  # Packets of 1.1.1.1, no name resolution (-n), only those from it:
  stenoread 'host 1.1.1.1' -n src host 1.1.1.1
  # PSH packets between two hosts:
  stenoread 'host 1.1.1.1 and host 2.2.2.2' -n 'tcp[tcpflags] & tcp-push != 0'
  # Write them to a file instead:
  stenoread 'host 1.1.1.1 and host 2.2.2.2' -w /tmp/out.pcap
  # The first 6 packets or 2 KiB, whichever comes first:
  stenoread --limit-packets 6 --limit-bytes 2048 'host 1.1.1.1'

Options (before the query):
  --limit-packets N   stop after N packets
  --limit-bytes N     stop after about N bytes of pcap

The server is found through the config file $STENOGRAPHER_CONFIG (default
/etc/stenographer/config): its Host, Port and CertPath.
"""


class UsageError(Exception):
    pass


@attrs.frozen
class Invocation:
    query: str
    tcpdump_args: tuple[str, ...]
    limit_packets: str | None = None
    limit_bytes: str | None = None


_LIMITS = {"--limit-packets": "limit_packets", "--limit-bytes": "limit_bytes"}


def parse_args(argv: Sequence[str]) -> Invocation:
    """Upstream's rule: leading limit options, then the query, then tcpdump's arguments."""
    limits: dict[str, str] = {}
    i = 0
    while i < len(argv):
        option, eq, value = argv[i].partition("=")
        if option not in _LIMITS:
            break
        if not eq:
            if i + 1 >= len(argv):
                raise UsageError(f"{option} needs a number")
            value = argv[i + 1]
            i += 1
        if not client.is_limit(value):
            raise UsageError(f"{option}: not a number: {value!r}")
        limits[_LIMITS[option]] = value
        i += 1
    if i >= len(argv):
        raise UsageError("no query given")
    return Invocation(query=argv[i], tcpdump_args=tuple(argv[i + 1 :]), **limits)


def find_tcpdump(path: str | None) -> str | None:
    search = os.pathsep.join([path or os.defpath, *EXTRA_TCPDUMP_DIRS])
    return shutil.which("tcpdump", path=search)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class Progress:
    """Bytes received so far, on one rewritten line of a terminal; silent elsewhere."""

    INTERVAL_SEC = 0.25

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._last = 0.0
        self._shown = False

    def update(self, received: int, *, final: bool = False) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if not final and now - self._last < self.INTERVAL_SEC:
            return
        self._last = now
        self._stream.write(f"\rstenoread: {_human(received)} received\x1b[K")
        self._stream.flush()
        self._shown = True

    def done(self, received: int) -> None:
        if self._shown:
            self.update(received, final=True)
            self._stream.write("\n")
            self._stream.flush()


def _feed(answer: client.Answer, tcpdump: subprocess.Popen[bytes], progress: Progress) -> None:
    """Copies the answer into tcpdump until either ends; tcpdump ending first is fine.

    tcpdump may end long before the answer (``-c 5``, or a bad filter), and
    the server may be silent for minutes meanwhile (a long scan finds
    nothing more), so a watcher thread aborts the transfer as soon as
    tcpdump exits rather than at the next write.
    """
    assert tcpdump.stdin is not None
    finished = threading.Event()

    def abort_when_tcpdump_exits() -> None:
        tcpdump.wait()
        if not finished.is_set():
            answer.abort()

    threading.Thread(target=abort_when_tcpdump_exits, daemon=True).start()
    try:
        for chunk in answer.chunks():
            try:
                tcpdump.stdin.write(chunk)
                tcpdump.stdin.flush()  # now: tcpdump prints as packets arrive
            except BrokenPipeError:
                return  # tcpdump has all it wants (-c N) or has failed and said why
            progress.update(answer.received)
    except client.IncompleteAnswer:
        if tcpdump.poll() is None:
            raise
        # tcpdump was done and the watcher stopped the transfer: a normal end.
    finally:
        finished.set()
        progress.done(answer.received)
        with contextlib.suppress(BrokenPipeError):
            tcpdump.stdin.close()


def run(inv: Invocation, environ: dict[str, str], stderr: IO[str]) -> int:
    # Upstream's line, word for word: people and scripts know it.
    shown_args = " ".join(inv.tcpdump_args)
    print(
        f"Running stenographer query '{inv.query}', piping to 'tcpdump {shown_args}'", file=stderr
    )
    tcpdump_path = find_tcpdump(environ.get("PATH"))
    if tcpdump_path is None:
        print("stenoread: tcpdump not found (install tcpdump)", file=stderr)
        return EXIT_ERROR
    try:
        settings = client_settings(config_path(environ))
        answer = client.query(
            settings, inv.query, limit_packets=inv.limit_packets, limit_bytes=inv.limit_bytes
        )
    except client.KeyAccessError as exc:
        print(exc, file=stderr)
        return EXIT_ERROR
    except (ConfigError, client.ClientError) as exc:
        for line in str(exc).splitlines():
            print(f"stenoread: {line}", file=stderr)
        return EXIT_ERROR
    incomplete: client.IncompleteAnswer | None = None
    with answer:
        tcpdump = subprocess.Popen(
            [tcpdump_path, "-r", "-", "-s", "0", *inv.tcpdump_args], stdin=subprocess.PIPE
        )
        try:
            _feed(answer, tcpdump, Progress(stderr))
        except client.IncompleteAnswer as exc:
            incomplete = exc
        finally:
            status = tcpdump.wait()
    if incomplete is not None:
        print(f"stenoread: {incomplete}", file=stderr)
        return EXIT_INCOMPLETE
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    if not args:
        sys.stderr.write(USAGE)
        return EXIT_ERROR
    try:
        inv = parse_args(args)
    except UsageError as exc:
        print(f"stenoread: {exc}\n", file=sys.stderr)
        sys.stderr.write(USAGE)
        return EXIT_ERROR
    try:
        return run(inv, dict(os.environ), sys.stderr)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
