"""TLS for the query service: mutual authentication against ``CertPath``.

As upstream: the server presents ``server_cert.pem``/``server_key.pem`` and
requires every client to present a certificate signed by ``ca_cert.pem``;
holding ``client_key.pem`` (readable by the ``stenographer`` group) is what
grants access.  Unlike upstream's Go defaults, TLS 1.2 is the minimum.
"""

from __future__ import annotations

import ssl
from pathlib import Path


class TlsSetupError(Exception):
    """The certificates in CertPath cannot be used; the message says which file and why."""


def server_context(cert_path: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    cert, key, ca = (cert_path / n for n in ("server_cert.pem", "server_key.pem", "ca_cert.pem"))
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsSetupError(f"cannot load {cert} / {key}: {exc}") from None
    try:
        ctx.load_verify_locations(ca)
    except (OSError, ssl.SSLError) as exc:
        raise TlsSetupError(f"cannot load {ca}: {exc}") from None
    ctx.verify_mode = ssl.CERT_REQUIRED
    # No TLS 1.2 renegotiation: nothing here needs it, and a client that asks
    # for it again and again makes the server do a handshake's work each time.
    ctx.options |= ssl.OP_NO_RENEGOTIATION
    # One request at a time per connection; no HTTP/2 (h11 speaks HTTP/1.1).
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
