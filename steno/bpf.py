"""Classic BPF programs in upstream's hex form (stenotype's ``--filter``).

Upstream's ``compile_bpf.sh IFACE FILTER…`` ran ``tcpdump -i IFACE -ddd`` and
printed each instruction ``code jt jf k`` as 16 hex digits (4, 2, 2, 8), all on
one line; Security Onion puts that string in the config's ``Flags``.  This
module produces and reads that form.  Compiling needs tcpdump (libpcap), but
not an interface: with ``-`` as the interface, the filter is compiled for
Ethernet from an empty capture file, so a filter can be prepared on a machine
that does not have the capture interface.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
MAX_INSTRUCTIONS = 0xFFFF
# An empty classic pcap file: little-endian, link type 1 (Ethernet), and
# tcpdump's own default snap length, so the "accept" returns match -i IFACE.
_EMPTY_ETHERNET_PCAP = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)


class BpfError(ValueError):
    """A filter that cannot be compiled or decoded; the message says why."""


def decode_hex(text: str) -> bytes:
    """Upstream's hex form → the kernel's ``struct sock_filter`` array (host order)."""
    if not text:
        return b""
    if len(text) % 16:
        raise BpfError(f"length {len(text)} is not a multiple of 16 hex digits per instruction")
    count = len(text) // 16
    if count > MAX_INSTRUCTIONS:
        raise BpfError(f"{count} instructions; a socket filter holds at most {MAX_INSTRUCTIONS}")
    out = bytearray()
    for i in range(count):
        chunk = text[i * 16 : (i + 1) * 16]
        if not _HEX16.fullmatch(chunk):
            raise BpfError(f"instruction {i} ({chunk!r}) is not 16 hex digits")
        out += struct.pack(
            "=HBBI",
            int(chunk[0:4], 16),
            int(chunk[4:6], 16),
            int(chunk[6:8], 16),
            int(chunk[8:], 16),
        )
    return bytes(out)


def encode_hex(instructions: Sequence[tuple[int, int, int, int]]) -> str:
    return "".join(f"{code:04x}{jt:02x}{jf:02x}{k:08x}" for code, jt, jf, k in instructions)


def parse_tcpdump_ddd(output: str) -> list[tuple[int, int, int, int]]:
    """Instructions from ``tcpdump -ddd`` output (a count line, then ``code jt jf k`` lines)."""
    lines = [line.split() for line in output.strip().splitlines()]
    if not lines or len(lines[0]) != 1:
        raise BpfError(f"unexpected tcpdump output: {output.strip()[:80]!r}")
    count = int(lines[0][0])
    body = lines[1:]
    if len(body) != count or any(len(fields) != 4 for fields in body):
        raise BpfError("tcpdump's instruction count does not match its instructions")
    return [(int(a), int(b), int(c), int(d)) for a, b, c, d in body]


def compile_filter(iface: str, expression: Sequence[str], *, tcpdump: str | None = None) -> str:
    """Compiles a tcpdump filter expression to upstream's hex form.

    `iface` "-" compiles for Ethernet without opening any interface.
    """
    binary = tcpdump or shutil.which("tcpdump") or "/usr/sbin/tcpdump"
    if not Path(binary).exists():
        raise BpfError("tcpdump is needed to compile filters (apt-get install tcpdump)")
    with tempfile.TemporaryDirectory(prefix="steno-bpf-") as tmp:
        if iface == "-":
            empty = Path(tmp) / "empty.pcap"
            empty.write_bytes(_EMPTY_ETHERNET_PCAP)
            source = ["-r", str(empty)]
        else:
            source = ["-i", iface]
        proc = subprocess.run(
            [binary, *source, "-ddd", *expression],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    if proc.returncode != 0:
        message = proc.stderr.strip().splitlines()
        raise BpfError(message[-1] if message else f"tcpdump exited with {proc.returncode}")
    return encode_hex(parse_tcpdump_ddd(proc.stdout))
