"""``stenotype``: the capture worker, flag-compatible with upstream's."""

from __future__ import annotations

import sys

from steno.actors.stenotype.program import main as program_main


def main() -> None:
    sys.exit(program_main(sys.argv[1:]))


if __name__ == "__main__":
    main()
