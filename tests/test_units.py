"""The shipped systemd units, checked statically with systemd's own tools.

``systemd-analyze verify`` exits 0 even on unknown keys and bad values, so
the check is that it prints nothing at all.  ``ExecStart=`` must exist where
it is verified, so the units are verified as a copy pointing at this
checkout's environment (the only change).  The hardening gate is
``systemd-analyze security --offline``'s exposure score, at most
:data:`MAX_EXPOSURE` (recorded in docs/systemd.md).  Running the units for
real: tests/e2e/test_systemd_units.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "units"
INSTALLED_BIN = "/opt/steno/bin/"
MAX_EXPOSURE = 2.0
_UNITS_LOAD_STAMP = Path("/run/systemd/systemd-units-load")


@pytest.fixture(autouse=True)
def no_stamp_left_behind() -> Iterator[None]:
    """systemd-analyze leaves /run/systemd/systemd-units-load; /run is on disk here."""
    existed = _UNITS_LOAD_STAMP.exists()
    yield
    if not existed:
        _UNITS_LOAD_STAMP.unlink(missing_ok=True)


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is part of systemd"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, check=False)


def verifiable_copy(directory: Path, *, edit: tuple[str, str] | None = None) -> list[Path]:
    """The units with ExecStart= pointing at this environment's scripts."""
    here = str(Path(sys.executable).parent) + "/"
    out = []
    for name in ("stenographer.socket", "stenographer.service"):
        text = (UNITS / name).read_text().replace(INSTALLED_BIN, here)
        if edit is not None and name.endswith(".service"):
            text = text.replace(*edit)
        (directory / name).write_text(text)
        out.append(directory / name)
    return out


def test_verify_prints_nothing(tmp_path: Path) -> None:
    assert "ExecStart=" + INSTALLED_BIN in (UNITS / "stenographer.service").read_text()
    proc = analyze("verify", "--man=no", *map(str, verifiable_copy(tmp_path)))
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_verify_would_catch_an_unknown_key(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key is printed (and exit status is still 0)."""
    units = verifiable_copy(tmp_path, edit=("WatchdogSec=", "WatchdogSecs="))
    proc = analyze("verify", "--man=no", *map(str, units))
    assert "Unknown key 'WatchdogSecs'" in proc.stdout + proc.stderr


def test_exposure_score_is_at_most_the_recorded_threshold() -> None:
    unit = str(UNITS / "stenographer.service")
    proc = analyze("security", "--offline=true", unit)
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"Overall exposure level for stenographer.service: (\d+\.\d)", proc.stdout)
    assert match, proc.stdout
    print(f"exposure {match[1]}")
    assert float(match[1]) <= MAX_EXPOSURE, proc.stdout
    # The same gate as systemd applies it (0-100 scale).
    gate = analyze("security", "--offline=true", f"--threshold={int(MAX_EXPOSURE * 10)}", unit)
    assert gate.returncode == 0, gate.stdout
    docs = (UNITS.parent / "docs" / "systemd.md").read_text()
    assert f"exposure level for stenographer.service: {match[1]}" in docs, "record it in the docs"


def test_units_agree_with_the_default_config() -> None:
    """The socket listens where clients look (the config's Host:Port), the
    data directory is writable, the run directory is systemd's."""
    import json

    config = json.loads((UNITS.parent / "etc" / "stenographer" / "config").read_text())
    socket_unit = (UNITS / "stenographer.socket").read_text()
    service = (UNITS / "stenographer.service").read_text()
    assert f"ListenStream={config['Host']}:{config['Port']}" in socket_unit
    assert "Accept=no" in socket_unit
    data = "/var/lib/stenographer"
    assert all(
        t["PacketsDirectory"].startswith(data + "/") and t["IndexDirectory"].startswith(data + "/")
        for t in config["Threads"]
    )
    assert f"ReadWritePaths={data}" in service
    assert "RuntimeDirectory=stenographer" in service


def test_sysusers_and_tmpfiles_make_the_user_and_data_directory(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    for tool, snippet in (
        ("systemd-sysusers", UNITS / "sysusers.d" / "stenographer.conf"),
        ("systemd-tmpfiles", UNITS / "tmpfiles.d" / "stenographer.conf"),
    ):
        path = shutil.which(tool)
        assert path, f"{tool} is part of systemd"
        argv = [path, f"--root={tmp_path}", str(snippet)]
        if tool == "systemd-tmpfiles":
            argv.insert(2, "--create")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
    passwd = (tmp_path / "etc" / "passwd").read_text().split(":")
    assert passwd[0] == "stenographer" and passwd[-1].strip() == "/usr/sbin/nologin"
    uid = int(passwd[2])
    st = (tmp_path / "var" / "lib" / "stenographer").stat()
    assert (st.st_uid, oct(st.st_mode & 0o777)) == (uid, "0o700")


def test_install_script_is_posix_sh() -> None:
    proc = subprocess.run(
        ["sh", "-n", str(UNITS / "install.sh")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert os.access(UNITS / "install.sh", os.X_OK)
