"""stenotype's seccomp sandbox (``c/sandbox.h`` has the allow-list and the why)."""

from __future__ import annotations

import os

from steno.native._steno import lib

MODES = {
    "none": lib.STENO_SANDBOX_NONE,
    "trace": lib.STENO_SANDBOX_TRACE,
    "kill": lib.STENO_SANDBOX_KILL,
}


def apply_sandbox(mode: str) -> None:
    """Confines the whole process to stenotype's allow-list; raises OSError if refused."""
    ret = lib.steno_sandbox_apply(MODES[mode])
    if ret < 0:
        raise OSError(-ret, f"seccomp --seccomp={mode}: {os.strerror(-ret)}")
