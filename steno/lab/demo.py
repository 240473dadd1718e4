"""The README's demo: real capture of generated traffic in a private namespace.

It builds a lab (a network namespace with a veth pair, nothing on the host),
generates seeded traffic with a known answer for every packet, runs the real
``stenotype`` on the capture end, sends the traffic, stops capture, and then
shows what is on disk and checks it against the answer key: every frame stored
with identical bytes, and index look-ups that return exactly the packets the
generator says carry each key.  Nothing here is mocked.
"""

from __future__ import annotations

import io
import ipaddress
import subprocess
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable

from steno.lab.generator import Traffic, generate
from steno.lab.netns import Lab
from steno.lab.pcap import PcapRecord, iter_pcap, write_pcap
from steno.lab.stenotype_run import BLOCK_SIZE, Stenotype, names, stored_frames
from steno.lab.truth import Key, KeyType, format_key
from steno.native.index import IndexReader
from steno.store.naming import ThreadDirs
from steno.store.packet_file import PacketFile

FLAGS = (
    "--blocks=32",
    "--blocksize_kb=64",
    "--aiops=8",
    "--filesize_mb=8",
    "--fileage_sec=2",
    "--blockage_sec=1",
)


def _key_bytes(key: Key) -> bytes:
    kind, value = key
    width = {
        KeyType.PROTO: 1,
        KeyType.PORT: 2,
        KeyType.VLAN: 2,
        KeyType.IPV4: 4,
        KeyType.MPLS: 4,
        KeyType.IPV6: 16,
    }[kind]
    return value.to_bytes(width, "big")


def lookup(dirs: ThreadDirs, key: Key) -> list[PcapRecord]:
    """Packets under one key, from the index files and packet files on disk."""
    frames: list[PcapRecord] = []
    visible, _ = names(dirs.index)
    for name in visible:
        with IndexReader(dirs.index_path(name).read_bytes()) as index:
            raw = _key_bytes(key)
            if index.key_width(int(key[0])) != len(raw):
                continue
            positions = index.positions(index.flows_for_key(int(key[0]), raw))
        if not positions:
            continue
        with PacketFile(dirs.packet_path(name), block_size=BLOCK_SIZE) as pf:
            buf = io.BytesIO()
            pf.export_pcap(buf, positions=array("Q", positions))
        buf.seek(0)
        frames.extend(iter_pcap(buf)[1])
    return frames


def _interesting_keys(traffic: Traffic) -> list[Key]:
    """A host, a port, a VLAN, an MPLS label, a protocol, an IPv6 host: popular ones.

    Hosts are taken from plain (label-free) traffic, so tcpdump can show them."""
    counts: Counter[Key] = Counter()
    for i in range(len(traffic)):
        keys = traffic.keys(i)
        labelled = any(k[0] is KeyType.MPLS for k in keys)
        counts.update(k for k in keys if not (labelled and k[0] in (KeyType.IPV4, KeyType.IPV6)))
    chosen: list[Key] = []
    for kind in (
        KeyType.IPV4,
        KeyType.PORT,
        KeyType.VLAN,
        KeyType.MPLS,
        KeyType.PROTO,
        KeyType.IPV6,
    ):
        ranked = [k for k, _ in counts.most_common() if k[0] is kind]
        if ranked:
            chosen.append(ranked[min(3, len(ranked) - 1)])
    return chosen


def run_demo(*, count: int = 20_000, seed: int = 1, out: Callable[[str], None] = print) -> int:
    t0 = time.monotonic()
    traffic = generate(seed=seed, count=count, profile="mixed")
    out(
        f"generated {len(traffic)} frames ({traffic.total_bytes / 1e6:.1f} MB, seed {seed}): "
        "IPv4/IPv6, TCP/UDP/SCTP/ICMP, VLAN, QinQ, MPLS, fragments, jumbo frames, "
        "in 198.18.0.0/15 and 2001:db8::/32"
    )
    with Lab() as lab:
        out(f"lab: network namespace {lab.name}, veth gen0 -> cap0 (both inside it)")
        base = lab.tmpdir / "store"
        steno = Stenotype(lab, base, *FLAGS).start()
        out(f"stenotype: capturing on cap0 into {base} ({' '.join(FLAGS)})")
        sent = lab.send((traffic.data, traffic.offsets), rate=20_000)
        out(f"sent {sent.sent} frames at {sent.rate_pps:,.0f} packets/s")
        time.sleep(1.5)
        status = steno.stop()
        out(f"stenotype: stopped with status {status}")
        if status != 0:
            sys.stderr.write(steno.log())
            return 1
        for line in steno.log().splitlines():
            if " stats: " in line:
                out("  " + line.split("] ", 1)[1])

        dirs = steno.dirs()
        visible, hidden = names(dirs.packets)
        packet_bytes = sum(dirs.packet_path(n).stat().st_size for n in visible)
        index_bytes = sum(dirs.index_path(n).stat().st_size for n in visible)
        stored = stored_frames(dirs)
        out("")
        out(
            f"on disk: {len(visible)} packet files + {len(visible)} index files, "
            f"{len(hidden)} hidden"
        )
        for name in visible:
            with IndexReader(dirs.index_path(name).read_bytes()) as index:
                info = index.info
            out(
                f"  PKT0/{name}  {dirs.packet_path(name).stat().st_size:>9,} bytes  "
                f"{info.packets:>6} packets  index {dirs.index_path(name).stat().st_size:>7,} bytes"
            )
        out(
            f"index: {index_bytes / max(len(stored), 1):.2f} bytes per packet, "
            f"{100 * index_bytes / max(packet_bytes, 1):.2f}% of the packet files"
        )

        ok = stored == list(traffic.frames())
        out(
            f"check: all {len(traffic)} frames stored with identical bytes: {'yes' if ok else 'NO'}"
        )

        out("")
        out("index look-ups, checked against the generator's answer key:")
        all_ok = ok
        for key in _interesting_keys(traffic):
            want = Counter(traffic.frame(i) for i in range(len(traffic)) if key in traffic.keys(i))
            got = Counter(r.data for r in lookup(dirs, key))
            match = got == want
            all_ok &= match
            out(
                f"  {format_key(key):<40} {sum(got.values()):>6} packets  "
                f"(expected {sum(want.values())}) {'ok' if match else 'MISMATCH'}"
            )

        host = next(k for k in _interesting_keys(traffic) if k[0] is KeyType.IPV4)
        sample = lab.tmpdir / "host.pcap"
        write_pcap(sample, lookup(dirs, host))
        shown = subprocess.run(
            ["tcpdump", "-r", str(sample), "-nn", "-c", "5"],
            capture_output=True,
            text=True,
            check=False,
        )
        out("")
        out(f"first packets of host {ipaddress.IPv4Address(host[1])}, read by tcpdump:")
        for line in shown.stdout.splitlines():
            out("  " + line)
        out("")
        out(f"demo {'passed' if all_ok else 'FAILED'} in {time.monotonic() - t0:.1f} s")
        return 0 if all_ok else 1


def main() -> int:
    return run_demo()


if __name__ == "__main__":
    sys.exit(main())
