"""curl as the lab's HTTPS client: mutual TLS against a server on the lab's loopback.

Both servers the lab runs (upstream's ``stenographer`` and steno's daemon) are
asked the same way, so that a benchmark compares the servers, not the clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

CURL = "/usr/bin/curl"


def curl_argv(
    cert_dir: Path,
    url: str,
    *,
    data: str | None = None,
    headers: Mapping[str, str] | None = None,
    write_out: str = "%{stderr}%{http_code}",
    max_time: float = 900.0,
) -> list[str]:
    """curl with cert_dir's client certificate, streaming the body to stdout
    unbuffered; by default the HTTP status goes last on stderr."""
    argv = [
        CURL,
        "--silent",
        "--show-error",
        "--no-buffer",
        "--cacert",
        str(cert_dir / "ca_cert.pem"),
        "--cert",
        str(cert_dir / "client_cert.pem"),
        "--key",
        str(cert_dir / "client_key.pem"),
        "--max-time",
        str(max_time),
        "--write-out",
        write_out,
        "--output",
        "-",
    ]
    for name, value in (headers or {}).items():
        argv += ["--header", f"{name}: {value}"]
    if data is not None:
        argv += ["--data-binary", data]
    return [*argv, url]
