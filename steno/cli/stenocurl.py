"""``stenocurl /PATH [curl args…]``: curl, with Stenographer's certificates, at the server.

As upstream: ``Host``, ``Port`` and ``CertPath`` come from
``$STENOGRAPHER_CONFIG`` (default ``/etc/stenographer/config``); curl is run
with ``--cert client_cert.pem --key client_key.pem --cacert ca_cert.pem``,
then your arguments, then ``https://Host:Port/PATH``.  Typical:
``stenocurl /debug/stats``, ``stenocurl /debug/config``.

Unlike upstream, curl is found on your ``PATH`` (upstream's script stored
the URL path in a variable called ``PATH`` and had to hard-code
``/usr/bin/curl``), an IPv6 ``Host`` gets brackets, and jq is not needed.
When the client key cannot be read, the message says who you are and what
the permissions on the way to the key are, as upstream's did.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import sys
from collections.abc import Sequence

from steno import client
from steno.certs import CA_CERT, CLIENT_CERT, CLIENT_KEY
from steno.config import ClientSettings, ConfigError, client_settings, config_path

USAGE = """\
usage: stenocurl /PATH [curl args...]

Runs curl against https://<Host>:<Port>/PATH of the Stenographer server named
in $STENOGRAPHER_CONFIG (default /etc/stenographer/config), with its client
certificate; the answer goes to stdout.  Arguments after the path go to curl.
Mostly for /debug/... pages; for packets, use stenoread.
"""


def curl_command(curl: str, settings: ClientSettings, path: str, args: Sequence[str]) -> list[str]:
    """The curl command line: certificates, then the caller's arguments, then the URL."""
    certs = settings.cert_path
    command = [
        curl,
        "--cert",
        str(certs / CLIENT_CERT),
        "--key",
        str(certs / CLIENT_KEY),
        "--cacert",
        str(certs / CA_CERT),
        *args,
    ]
    if ipaddress.ip_address(settings.host).version == 6:
        command.append("--globoff")  # or curl reads the brackets as a URL pattern
    command.append(client.url(settings, path))
    return command


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    if not args or not args[0].startswith("/"):
        sys.stderr.write(USAGE)
        return 1
    path, curl_args = args[0], args[1:]
    try:
        settings = client_settings(config_path(os.environ))
        client.check_key_readable(settings.cert_path)
    except client.KeyAccessError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (ConfigError, client.ClientError) as exc:
        for line in str(exc).splitlines():
            print(f"stenocurl: {line}", file=sys.stderr)
        return 1
    curl = shutil.which("curl")
    if curl is None:
        print("stenocurl: curl not found on PATH (install curl)", file=sys.stderr)
        return 1
    command = curl_command(curl, settings, path, curl_args)
    sys.stdout.flush()
    os.execv(curl, command)


if __name__ == "__main__":
    sys.exit(main())
