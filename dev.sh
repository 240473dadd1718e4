#!/usr/bin/env bash
# dev.sh -- the one entry point of a steno checkout.  On a fresh Debian 12
# machine, as root, it installs what it needs (apt and pip) and then runs:
#
#   ./dev.sh demo    capture generated traffic in a lab network namespace and query it
#   ./dev.sh test    the whole test suite (lint, unit, lab capture, fuzz smoke)
#   ./dev.sh bench   the benchmarks, side by side with upstream stenotype and tcpdump
#   ./dev.sh fuzz    a longer coverage-guided fuzzing run of the packet parser
#   ./dev.sh lint    ruff and mypy only
#
# Everything else is a nox session (.venv/bin/nox -l lists them).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

if [ "$(id -u)" != 0 ]; then
    echo "dev.sh: run as root: capture needs network namespaces, CAP_NET_RAW and CAP_IPC_LOCK" >&2
    exit 1
fi

# Debian packages: build tools for the C core and systemd-python, the lab's
# plumbing (iproute2, ethtool), the oracles the tests compare against
# (tcpdump, tshark, Debian's stenographer 1.0.1, and the LevelDB library that
# upstream's index files are written with, through a small C++ program: g++,
# libleveldb-dev), upstream's clients and what its stenokeys needs to make
# certificates (stenographer-client: stenoread, stenocurl; jq, openssl, curl),
# and clang with its sanitizer and libFuzzer runtime (Debian ships that apart,
# in libclang-rt-14-dev).
APT_PACKAGES=(
    python3-venv python3-dev gcc g++ pkg-config libffi-dev libsystemd-dev
    iproute2 ethtool procps tcpdump tshark stenographer stenographer-client
    jq openssl curl clang libclang-rt-14-dev libleveldb-dev
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "dev.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-/usr/bin/python3}
if [ ! -x .venv/bin/nox ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q 'nox>=2024.10'
fi

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    demo)  exec .venv/bin/nox -s demo -- "$@" ;;
    test)  exec .venv/bin/nox -s lint tests -- "$@" ;;
    bench) exec .venv/bin/nox -s bench -- "$@" ;;
    fuzz)  exec .venv/bin/nox -s fuzz -- "$@" ;;
    lint)  exec .venv/bin/nox -s lint -- "$@" ;;
    *)
        sed -n '2,12p' "$0" >&2
        exit 2
        ;;
esac
