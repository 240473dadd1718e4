"""Builds the C core as the cffi API-mode extension ``steno.native._steno``.

Why it looks like this: the declarations cffi reads live in ``cdef/`` (one header
per area of the core, in the subset of C that cffi parses, with ``...`` where the
compiler should fill in a constant or a struct layout).  The real headers in
``c/`` are included into the generated module too, so the C compiler checks every
cdef declaration against the real one; a drift is a build error, not a crash.

This module is only the builder.  It imports nothing from ``steno`` (it runs in
pip's isolated build environment), and nothing at run time imports it: the typed
wrappers in ``steno/native/*.py`` import the built ``_steno`` instead.
"""

from __future__ import annotations

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
C_DIR = HERE / "c"
CDEF_DIR = HERE / "cdef"

# -D_GNU_SOURCE for fallocate, ppoll and the like; -Werror so that a mismatch
# between a cdef and its real header stops the build.
COMPILE_ARGS = [
    "-std=gnu11",
    "-O2",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
    "-D_GNU_SOURCE",
    "-fno-strict-aliasing",
]


def _relative(path: Path) -> str:
    """setuptools insists on source paths relative to the project root."""
    root = HERE.parent.parent
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def make_ffibuilder() -> FFI:
    builder = FFI()
    for header in sorted(CDEF_DIR.glob("*.h")):
        builder.cdef(header.read_text())
    includes = "\n".join(f'#include "{h.name}"' for h in sorted(C_DIR.glob("*.h")))
    builder.set_source(
        "steno.native._steno",
        includes,
        sources=[_relative(p) for p in sorted(C_DIR.glob("*.c"))],
        include_dirs=[str(C_DIR)],
        extra_compile_args=COMPILE_ARGS,
    )
    return builder


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
