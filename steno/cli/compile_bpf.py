"""``steno-compile-bpf IFACE FILTER…``: upstream's compile_bpf.sh, for --filter.

Prints the filter as the hex string stenotype's ``--filter`` takes.  IFACE "-"
compiles for Ethernet without needing the interface to exist.
"""

from __future__ import annotations

import argparse
import sys

from steno.bpf import BpfError, compile_filter


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="steno-compile-bpf",
        description="Compile a tcpdump filter expression to stenotype's --filter hex.",
    )
    parser.add_argument("iface", help="interface whose link type to compile for; '-' for Ethernet")
    parser.add_argument("expression", nargs="+", help="tcpdump filter expression")
    args = parser.parse_args(argv)
    try:
        print(compile_filter(args.iface, args.expression))
    except BpfError as exc:
        print(f"steno-compile-bpf: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
