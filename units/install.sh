#!/bin/sh
# units/install.sh -- install steno as a systemd service (as root, from a checkout).
#
#   units/install.sh              venv in /opt/steno, units, user, directories, certificates
#   units/install.sh --no-venv    the same, with /opt/steno already holding steno
#
# Then: edit /etc/stenographer/config (Interface, Threads) and
#   systemctl enable --now stenographer.socket stenographer.service
# docs/systemd.md explains every step.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/steno
VENV=yes
for arg in "$@"; do
    case "$arg" in
        --no-venv) VENV=no ;;
        *) echo "usage: $0 [--no-venv]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "$0: run as root" >&2; exit 1; }

if [ "$VENV" = yes ]; then
    # Debian's python3: a pyenv or other interpreter under /root would not be
    # executable by the service user.
    /usr/bin/python3 -m venv "$PREFIX"
    "$PREFIX/bin/pip" install -q --upgrade pip
    "$PREFIX/bin/pip" install -q "$SRC"
fi
[ -x "$PREFIX/bin/stenographer" ] || { echo "$0: no $PREFIX/bin/stenographer" >&2; exit 1; }

install -D -m 0644 "$SRC/units/stenographer.service" /etc/systemd/system/stenographer.service
install -D -m 0644 "$SRC/units/stenographer.socket" /etc/systemd/system/stenographer.socket
install -D -m 0644 "$SRC/units/sysusers.d/stenographer.conf" /etc/sysusers.d/stenographer.conf
install -D -m 0644 "$SRC/units/tmpfiles.d/stenographer.conf" /etc/tmpfiles.d/stenographer.conf
install -D -m 0644 "$SRC/docs/systemd.md" /usr/share/doc/steno/systemd.md
systemd-sysusers /etc/sysusers.d/stenographer.conf
systemd-tmpfiles --create /etc/tmpfiles.d/stenographer.conf

if [ ! -e /etc/stenographer/config ]; then
    # The shipped config names upstream's stenotype path; use steno's.
    install -d -m 0755 /etc/stenographer
    sed "s#\"/usr/sbin/stenotype\"#\"$PREFIX/bin/stenotype\"#" \
        "$SRC/etc/stenographer/config" > /etc/stenographer/config
    chmod 0644 /etc/stenographer/config
    echo "$0: wrote /etc/stenographer/config: set Interface and Threads before starting"
elif ! grep -q "\"StenotypePath\": *\"$PREFIX/bin/stenotype\"" /etc/stenographer/config; then
    # An existing config (Debian's stenographer package writes one) may name
    # upstream's stenotype; steno runs it too, but steno's is the one meant.
    echo "$0: note: /etc/stenographer/config keeps its StenotypePath;" \
        "steno's is $PREFIX/bin/stenotype" >&2
fi
# Certificates (kept if present): server key for the service user, client key
# for the group.
STENOGRAPHER_CONFIG=/etc/stenographer/config "$PREFIX/bin/stenokeys" stenographer stenographer

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
echo "$0: installed; now: systemctl enable --now stenographer.socket stenographer.service"
