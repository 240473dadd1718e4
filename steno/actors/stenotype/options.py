"""stenotype's flags: upstream's names, defaults and sanity checks.

The model is plain data (frozen attrs); :func:`parse_args` fills it from argv
the way upstream's glibc argp did (``--flag=value`` or ``--flag value``,
unambiguous prefixes of long flags, ``-v`` repeatable as ``-vvv``), and
:meth:`StenotypeOptions.check` applies upstream's start-up checks.  Every
problem becomes one :class:`UsageError` line naming the flag; nothing here
prints or exits.
"""

from __future__ import annotations

import argparse
import mmap
from typing import NoReturn

import attrs

from steno.bpf import BpfError, decode_hex

# PACKET_FANOUT_LB | PACKET_FANOUT_FLAG_ROLLOVER, upstream's default.
DEFAULT_FANOUT_TYPE = 0x1001
SECCOMP_MODES = ("none", "trace", "kill")
MAX_FILESIZE_MB = 4096  # positions are 32-bit byte offsets


class UsageError(Exception):
    """A bad flag or an impossible combination, as one line for a person."""


@attrs.frozen(kw_only=True)
class StenotypeOptions:
    dir: str
    iface: str = "eth0"
    threads: int = 1
    blocks: int = 2048
    blocksize_kb: int = 1024
    aiops: int = 128
    filesize_mb: int = 4096
    fileage_sec: int = 60
    blockage_sec: int = 10
    fanout_type: int = DEFAULT_FANOUT_TYPE
    fanout_id: int = 0
    filter_hex: str = ""
    seccomp: str = "kill"
    preallocate_file_mb: int = 0
    uid: str = ""
    gid: str = ""
    promisc: bool = True
    index: bool = True
    index_nicelevel: int = 0
    count: int = -1
    stats_sec: int = 60
    stats_blocks: int = 100
    watchdogs: bool = True
    verbosity: int = 0
    index_budget_mb: int = 512
    """steno's own: rotate a file early when its in-memory index grows past this."""

    @property
    def block_size(self) -> int:
        return self.blocksize_kb * 1024

    @property
    def blocks_per_file(self) -> int:
        return self.filesize_mb * 1024 // self.blocksize_kb

    @property
    def fanout(self) -> bool:
        """Upstream joins a fanout group only with several threads or an explicit id."""
        return self.threads > 1 or self.fanout_id > 0

    def bpf_program(self) -> bytes:
        """The --filter hex as packed ``struct sock_filter`` instructions."""
        return decode_filter(self.filter_hex)

    def check(self) -> None:
        """Upstream's start-up checks, each failure a UsageError naming the flag."""
        page = mmap.PAGESIZE
        rules: list[tuple[bool, str]] = [
            (self.dir != "", "--dir is required"),
            (self.threads >= 1, f"--threads={self.threads}: must be at least 1"),
            (self.blocks >= 16, f"--blocks={self.blocks}: must be at least 16"),
            (
                self.aiops <= self.blocks,
                f"--aiops={self.aiops}: must not exceed --blocks={self.blocks}",
            ),
            (self.aiops >= 1, f"--aiops={self.aiops}: must be at least 1"),
            (
                1 < self.filesize_mb <= MAX_FILESIZE_MB,
                f"--filesize_mb={self.filesize_mb}: must be more than 1 and at most "
                f"{MAX_FILESIZE_MB} (packet positions are 32-bit)",
            ),
            (
                self.filesize_mb >= self.aiops,
                f"--filesize_mb={self.filesize_mb}: must be at least --aiops={self.aiops}",
            ),
            (self.blockage_sec > 0, f"--blockage_sec={self.blockage_sec}: must be positive"),
            (
                self.blockage_sec <= self.fileage_sec,
                f"--blockage_sec={self.blockage_sec}: must not exceed "
                f"--fileage_sec={self.fileage_sec}",
            ),
            (self.blocksize_kb >= 10, f"--blocksize_kb={self.blocksize_kb}: must be at least 10"),
            (
                self.block_size >= page and self.block_size % page == 0,
                f"--blocksize_kb={self.blocksize_kb}: must be a multiple of the page size "
                f"({page // 1024} KiB)",
            ),
            (
                self.seccomp in SECCOMP_MODES,
                f"--seccomp={self.seccomp}: must be one of {', '.join(SECCOMP_MODES)}",
            ),
            (
                0 <= self.fanout_id <= 0xFFFF,
                f"--fanout_id={self.fanout_id}: must be between 0 and 65535",
            ),
            (
                0 <= self.fanout_type <= 0xFFFF,
                f"--fanout_type={self.fanout_type}: must be between 0 and 65535",
            ),
            (
                self.preallocate_file_mb >= 0,
                f"--preallocate_file_mb={self.preallocate_file_mb}: must not be negative",
            ),
            (self.stats_sec >= 0, f"--stats_sec={self.stats_sec}: must not be negative"),
            (self.stats_blocks >= 0, f"--stats_blocks={self.stats_blocks}: must not be negative"),
            (
                self.index_budget_mb >= 1,
                f"--index_budget_mb={self.index_budget_mb}: must be at least 1",
            ),
        ]
        for ok, message in rules:
            if not ok:
                raise UsageError(message)
        # After the positivity checks, so the modulo is defined.
        if self.fileage_sec % self.blockage_sec:
            raise UsageError(
                f"--fileage_sec={self.fileage_sec}: must be a multiple of "
                f"--blockage_sec={self.blockage_sec}"
            )
        self.bpf_program()


def decode_filter(text: str) -> bytes:
    """The --filter hex as the kernel's ``struct sock_filter`` array (see steno.bpf)."""
    try:
        return decode_hex(text)
    except BpfError as exc:
        raise UsageError(f"--filter: {exc}") from None


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _int(text: str) -> int:
    try:
        return int(text, 0) if text.lower().startswith(("0x", "0o", "0b")) else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="stenotype",
        description="Capture packets to disk in Stenographer's layout, indexing as it goes.",
        allow_abbrev=True,
        add_help=False,
    )
    p.add_argument("-?", "--help", action="store_true", dest="help", help="give this help list")
    p.add_argument("--usage", action="store_true", help="give a short usage message")
    p.add_argument("-v", action="count", default=0, dest="v", help="verbose logging; repeatable")
    p.add_argument("-q", action="count", default=0, dest="q", help="quiet logging; undoes one -v")
    p.add_argument("--iface", default="eth0", help="interface to read packets from")
    p.add_argument("--dir", default="", help="directory holding PKT<N>/ and IDX<N>/")
    p.add_argument(
        "--count", type=_int, default=-1, help="stop after this many packets per thread; -1 never"
    )
    p.add_argument("--blocks", type=_int, default=2048, help="ring blocks per thread")
    p.add_argument("--blocksize_kb", type=_int, default=1024, help="size of a ring block, KiB")
    p.add_argument("--aiops", type=_int, default=128, help="writes in flight per thread")
    p.add_argument("--filesize_mb", type=_int, default=4096, help="rotate at this file size, MiB")
    p.add_argument("--fileage_sec", type=_int, default=60, help="rotate files this old, seconds")
    p.add_argument(
        "--blockage_sec",
        type=_int,
        default=10,
        help="retire a partly filled block after this, seconds",
    )
    p.add_argument(
        "--threads", type=_int, default=1, help="capture threads (rings in one fanout group)"
    )
    p.add_argument(
        "--fanout_type", type=_int, default=DEFAULT_FANOUT_TYPE, help="PACKET_FANOUT mode | flags"
    )
    p.add_argument("--fanout_id", type=_int, default=0, help="fanout group id; 0 = the process id")
    p.add_argument("--filter", default="", help="compiled BPF as hex (see steno-compile-bpf)")
    p.add_argument("--seccomp", default="kill", help="none, trace or kill")
    p.add_argument(
        "--preallocate_file_mb",
        type=_int,
        default=0,
        help="fallocate new packet files to this size",
    )
    p.add_argument("--uid", default="", help="drop privileges to this user (name)")
    p.add_argument("--gid", default="", help="drop privileges to this group (name)")
    p.add_argument(
        "--no_promisc", action="store_true", help="do not make the interface promiscuous"
    )
    p.add_argument("--no_index", action="store_true", help="do not build or write indexes")
    p.add_argument("--index_nicelevel", type=_int, default=0, help="nice level of index writing")
    p.add_argument(
        "--stats_sec", type=_int, default=60, help="with -v: stats at least every N s; 0 off"
    )
    p.add_argument(
        "--stats_blocks", type=_int, default=100, help="with -v: stats every N blocks; 0 off"
    )
    p.add_argument(
        "--no_watchdogs",
        action="store_true",
        help="do not abort a thread that stops making progress",
    )
    p.add_argument("--testimony", default="", help="not supported by steno")
    p.add_argument(
        "--index_budget_mb",
        type=_int,
        default=512,
        help="steno: rotate early when a file's in-memory index exceeds this, MiB",
    )
    return p


def parse_args(argv: list[str]) -> StenotypeOptions | str:
    """Options from argv, or the help/usage text to print when asked for it."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.help:
        return parser.format_help()
    if ns.usage:
        return parser.format_usage()
    if ns.testimony:
        raise UsageError("--testimony: Testimony is not supported; capture with AF_PACKET instead")
    options = StenotypeOptions(
        dir=ns.dir,
        iface=ns.iface,
        threads=ns.threads,
        blocks=ns.blocks,
        blocksize_kb=ns.blocksize_kb,
        aiops=ns.aiops,
        filesize_mb=ns.filesize_mb,
        fileage_sec=ns.fileage_sec,
        blockage_sec=ns.blockage_sec,
        fanout_type=ns.fanout_type,
        fanout_id=ns.fanout_id,
        filter_hex=ns.filter,
        seccomp=ns.seccomp,
        preallocate_file_mb=ns.preallocate_file_mb,
        uid=ns.uid,
        gid=ns.gid,
        promisc=not ns.no_promisc,
        index=not ns.no_index,
        index_nicelevel=ns.index_nicelevel,
        count=ns.count,
        stats_sec=ns.stats_sec,
        stats_blocks=ns.stats_blocks,
        watchdogs=not ns.no_watchdogs,
        verbosity=ns.v - ns.q,
        index_budget_mb=ns.index_budget_mb,
    )
    options.check()
    return options
