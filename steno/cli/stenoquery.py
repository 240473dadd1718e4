"""``stenoquery``: answer a query from a store on disk, with no server.

For forensics on a copied store (steno's or upstream Stenographer's), or on
the sensor itself::

    stenoquery --dir /var/lib/steno 'host 198.18.0.7 and after 1h ago' | tcpdump -nr -
    stenoquery --config /etc/stenographer/config -w out.pcap 'port 53'

``--dir`` names a directory holding ``PKT<N>/`` and ``IDX<N>/`` (what
stenotype's ``--dir`` holds); ``--config`` reads the thread directories from a
Stenographer configuration file.  The pcap goes to stdout (never to a
terminal) or to ``-w FILE``.  On a terminal, progress (packets and bytes so
far, files left) is shown on stderr; in a pipe only errors are.  Files that
cannot be read are named on stderr and the answer comes from the rest; the
exit status is then 3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from steno.query import QuerySyntaxError, parse
from steno.query.engine import OutputFormat, QueryOptions, QueryRun, run_query
from steno.query.plan import PlanError, plan
from steno.store.catalogue import Catalogue
from steno.store.naming import ThreadDirs

EXIT_USAGE = 2
EXIT_PARTIAL = 3


class UsageError(Exception):
    pass


def _thread_dirs_under(base: Path) -> list[ThreadDirs]:
    found = []
    n = 0
    while (base / f"IDX{n}").is_dir():
        found.append(ThreadDirs.under(base, n))
        n += 1
    if not found:
        raise UsageError(f"{base} holds no IDX0/ directory (is it stenotype's --dir?)")
    return found


def _thread_dirs_from_config(path: Path) -> list[ThreadDirs]:
    try:
        config = json.loads(path.read_text())
        threads = config["Threads"]
        return [
            ThreadDirs(i, Path(t["PacketsDirectory"]), Path(t["IndexDirectory"]))
            for i, t in enumerate(threads)
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read thread directories from {path}: {exc}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stenoquery",
        description="Answer a steno/Stenographer query from the store on disk, as pcap.",
    )
    p.add_argument("query", help="the query, in Stenographer's language")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--dir", type=Path, action="append", help="a directory with PKT<N>/, IDX<N>/"
    )
    where.add_argument("--config", type=Path, help="a Stenographer config file (its Threads)")
    p.add_argument("-w", dest="write", type=Path, help="write the pcap here instead of stdout")
    p.add_argument(
        "--format",
        choices=[f.value for f in OutputFormat],
        default=OutputFormat.PCAP.value,
        help="pcap (microseconds, as upstream), pcap-ns (nanoseconds) or pcapng",
    )
    p.add_argument("--nano", action="store_true", help="the same as --format=pcap-ns")
    p.add_argument("--limit-packets", type=int, default=0, metavar="N")
    p.add_argument("--limit-bytes", type=int, default=0, metavar="N")
    p.add_argument(
        "--upstream-block-kb",
        type=int,
        default=1024,
        metavar="KB",
        help="block size of upstream packet files (upstream's --blocksize_kb)",
    )
    p.add_argument("--no-verify", action="store_true", help="skip index checksums (faster)")
    return p


class _Progress:
    """One line on stderr, rewritten at most ten times a second, on a terminal only."""

    def __init__(self, enabled: bool, files: int) -> None:
        self.enabled = enabled
        self.files = files
        self._last = 0.0

    def update(self, run: QueryRun, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self._last < 0.1:
            return
        self._last = now
        left = max(0, self.files - run.files_read - run.files_skipped)
        sys.stderr.write(
            f"\r{run.packets:,} packets, {run.bytes_out:,} bytes, {left} files left   "
            + ("\n" if final else "")
        )
        sys.stderr.flush()


def _output(path: Path | None) -> BinaryIO:
    if path is not None:
        return open(path, "wb")
    if sys.stdout.isatty():
        raise UsageError("refusing to write pcap to a terminal: use -w FILE or a pipe")
    return sys.stdout.buffer


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.limit_packets < 0 or args.limit_bytes < 0:
        parser.error("limits must not be negative")
    try:
        try:
            query = parse(args.query, now=datetime.now(UTC))
        except QuerySyntaxError as exc:
            sys.stderr.write(f"stenoquery: {exc}\n{exc.caret()}\n")
            return EXIT_USAGE
        stores = (
            [d for base in args.dir for d in _thread_dirs_under(base)]
            if args.dir
            else _thread_dirs_from_config(args.config)
        )
        the_plan = plan(query)
        out = _output(args.write)
    except (UsageError, PlanError) as exc:
        print(f"stenoquery: {exc}", file=sys.stderr)
        return EXIT_USAGE

    catalogue = Catalogue.scan(stores, upstream_block_size=args.upstream_block_kb * 1024)
    options = QueryOptions(
        output=OutputFormat.PCAP_NS if args.nano else OutputFormat(args.format),
        limit_packets=args.limit_packets,
        limit_bytes=args.limit_bytes,
        verify_index_crc=not args.no_verify,
    )
    run = QueryRun()
    progress = _Progress(sys.stderr.isatty(), catalogue.files)
    try:
        for chunk in run_query(the_plan, catalogue, options, run):
            out.write(chunk)
            progress.update(run)
        out.flush()
    except BrokenPipeError:
        # The reader went away (tcpdump -c, head): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    progress.update(run, final=True)
    for problem in run.problems:
        print(f"stenoquery: skipped {problem}", file=sys.stderr)
    if run.problems:
        print(
            f"stenoquery: answered from {run.files_read} files; "
            f"{len(run.problems)} could not be read (named above)",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
