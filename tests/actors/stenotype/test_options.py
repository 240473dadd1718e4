"""stenotype's flags: upstream's names, defaults, argp habits and start-up checks."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from steno.actors.stenotype.options import StenotypeOptions, UsageError, parse_args


def parse(*argv: str) -> StenotypeOptions:
    result = parse_args(["--dir=/d", *argv])
    assert isinstance(result, StenotypeOptions)
    return result


def test_defaults_are_upstreams() -> None:
    o = parse()
    assert (o.iface, o.threads, o.blocks, o.blocksize_kb, o.aiops) == ("eth0", 1, 2048, 1024, 128)
    assert (o.filesize_mb, o.fileage_sec, o.blockage_sec) == (4096, 60, 10)
    assert (o.fanout_type, o.fanout_id, o.seccomp, o.count) == (0x1001, 0, "kill", -1)
    assert (o.stats_sec, o.stats_blocks, o.preallocate_file_mb) == (60, 100, 0)
    assert o.promisc and o.index and o.watchdogs
    assert o.blocks_per_file == 4096
    assert not o.fanout


@pytest.mark.parametrize(
    "argv",
    [
        ["--blocks=256"],
        ["--blocks", "256"],
        ["--blocks=0x100"],
    ],
)
def test_argp_forms(argv: list[str]) -> None:
    assert parse(*argv).blocks == 256


def test_unambiguous_prefixes_work_as_with_argp() -> None:
    assert parse("--aio=64").aiops == 64
    assert parse("--preall=8").preallocate_file_mb == 8


def test_verbosity_counts_v_and_q() -> None:
    assert parse("-vvv").verbosity == 3
    assert parse("-v", "-v", "-q").verbosity == 1


def test_fanout_joins_with_threads_or_an_id() -> None:
    assert parse("--threads=2", "--aiops=16", "--blocks=32").fanout
    assert parse("--fanout_id=7").fanout


def test_switch_flags() -> None:
    o = parse("--no_promisc", "--no_index", "--no_watchdogs")
    assert not o.promisc and not o.index and not o.watchdogs


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--blocks=15"], "--blocks=15: must be at least 16"),
        (["--blocks=16", "--aiops=17"], "--aiops=17: must not exceed --blocks=16"),
        (["--filesize_mb=1"], "--filesize_mb=1: must be more than 1"),
        (["--filesize_mb=4097"], "at most 4096"),
        (["--filesize_mb=64"], "--filesize_mb=64: must be at least --aiops=128"),
        (["--threads=0"], "--threads=0: must be at least 1"),
        (["--blockage_sec=0"], "--blockage_sec=0: must be positive"),
        (["--blockage_sec=61"], "must not exceed --fileage_sec=60"),
        (["--fileage_sec=15"], "--fileage_sec=15: must be a multiple of --blockage_sec=10"),
        (["--blocksize_kb=9"], "--blocksize_kb=9: must be at least 10"),
        (["--blocksize_kb=10"], "multiple of the page size"),
        (["--seccomp=strict"], "--seccomp=strict: must be one of none, trace, kill"),
        (["--fanout_id=70000"], "--fanout_id=70000"),
        (["--filter=0028"], "--filter: length 4 is not a multiple of 16"),
        (["--filter=00280000000000zz"], "--filter: instruction 0"),
        (["--blocks=lots"], "'lots' is not an integer"),
        (["--nonsense"], "unrecognized arguments: --nonsense"),
        (["--b=3"], "ambiguous option"),
        (["--testimony=/run/t.sock"], "Testimony is not supported"),
    ],
)
def test_bad_flags_name_the_flag(argv: list[str], fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_args(["--dir=/d", *argv])
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_dir_is_required() -> None:
    with pytest.raises(UsageError, match="--dir is required"):
        parse_args([])


def test_filter_decodes_to_sock_filter() -> None:
    o = parse("--filter=0028000000000000" + "0015000100000800")
    assert o.bpf_program() == struct.pack("=HBBI", 0x28, 0, 0, 0) + struct.pack(
        "=HBBI", 0x15, 0, 1, 0x800
    )


def test_help_and_usage_are_text() -> None:
    assert "--blocksize_kb" in str(parse_args(["--help"]))
    assert "usage" in str(parse_args(["--usage"])).lower()


def test_command_line_error_is_one_line_and_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "steno.cli.stenotype", "--dir=/d", "--blocks=3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == "stenotype: --blocks=3: must be at least 16\n"
    assert proc.stdout == ""
