"""nox sessions: the project's tasks, each in its own virtualenv.

``./dev.sh`` installs the system packages and nox, then runs these.  Sessions use
the interpreter nox runs under (Debian's python3 on a fresh machine).
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite: unit, native, lab capture (needs root), fuzz smoke."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy --strict."""
    session.install("-e", ".[test,lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session
def demo(session: nox.Session) -> None:
    """Capture generated traffic in a private network namespace, then show what was stored."""
    session.install("-e", ".")
    session.run("steno-lab", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Capture benchmark: steno vs upstream stenotype vs tcpdump, one run, same traffic."""
    session.install("-e", ".")
    session.run("python", "-m", "bench.capture", *session.posargs)


@nox.session
def querybench(session: nox.Session) -> None:
    """Query benchmark: steno's server vs upstream's, stenoquery beside; one run, same packets."""
    session.install("-e", ".")
    session.run("python", "-m", "bench.query", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """libFuzzer on the packet parser for longer than the test suite's smoke run."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "fuzz.run", *(session.posargs or ["--seconds", "600"]))
