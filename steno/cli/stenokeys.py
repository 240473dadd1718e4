"""``stenokeys USER GROUP``: make the CA, server and client certificates, as upstream.

Run as root at install time (upstream's install ran ``stenokeys.sh stenographer
stenographer``).  Reads ``Host`` and ``CertPath`` from ``$STENOGRAPHER_CONFIG``
(default ``/etc/stenographer/config``), makes whatever is missing of the
layout in ``steno.certs`` — never replacing an existing file — and gives the
server key to USER and the client key to GROUP: members of GROUP may query.
Running it again changes nothing but the files' owners and modes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from steno.certs import CertError, ensure_certificates, resolve_owners
from steno.config import ConfigError, client_settings, config_path

USAGE = """\
usage: stenokeys <stenouser> <stenogroup>

Makes Stenographer's certificates in the config's CertPath (config from
$STENOGRAPHER_CONFIG, default /etc/stenographer/config): a private CA, a server
key for <stenouser> and a client key readable by <stenogroup>.  Existing files
are kept.
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    if len(args) != 2:
        sys.stderr.write(USAGE)
        return 1
    user, group = args
    try:
        settings = client_settings(config_path(os.environ))
        owners = resolve_owners(user, group)
        report = ensure_certificates(settings.cert_path, settings.host, owners=owners)
    except (ConfigError, CertError) as exc:
        for line in str(exc).splitlines():
            print(f"stenokeys: {line}", file=sys.stderr)
        return 1
    for line in report:
        print(f"stenokeys: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
