"""The README's demo: the whole system on generated traffic, in a private namespace.

It builds a lab (a network namespace with a veth pair, nothing on the host),
makes certificates with ``stenokeys``, starts the real ``stenographer``
daemon (which runs ``stenotype`` on the capture end), sends seeded traffic
whose every packet has a known answer, waits until it is queryable, and asks
``stenoread`` -- over mutual TLS, as an analyst would -- a few questions,
checking each answer against the generator's answer key.  Nothing is mocked.
"""

from __future__ import annotations

import collections
import io
import ipaddress
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from steno.lab.answer_key import matches
from steno.lab.daemon_run import Stenographer
from steno.lab.generator import Traffic, generate
from steno.lab.netns import Lab
from steno.lab.pcap import iter_pcap
from steno.lab.stenotype_run import names
from steno.lab.truth import KeyType
from steno.query import parse
from steno.store.naming import ThreadDirs

FLAGS = (
    "--blocks=32",
    "--blocksize_kb=64",
    "--aiops=8",
    "--filesize_mb=8",
    "--fileage_sec=2",
    "--blockage_sec=1",
)


def _popular(traffic: Traffic, kind: KeyType, *, plain: bool = True) -> int:
    counts: collections.Counter[int] = collections.Counter()
    for i in range(len(traffic)):
        keys = traffic.keys(i)
        if plain and any(k is KeyType.MPLS for k, _ in keys):
            continue
        counts.update(v for k, v in keys if k is kind)
    return counts.most_common(4)[-1][0]


def _queries(traffic: Traffic) -> list[str]:
    host_value = _popular(traffic, KeyType.IPV4)
    host = ipaddress.IPv4Address(host_value)
    ports: collections.Counter[int] = collections.Counter()
    for i in range(len(traffic)):
        keys = traffic.keys(i)
        if (KeyType.IPV4, host_value) in keys:
            ports.update(v for k, v in keys if k is KeyType.PORT)
    port = ports.most_common(1)[0][0] if ports else 443
    host6 = ipaddress.IPv6Address(_popular(traffic, KeyType.IPV6))
    vlan = _popular(traffic, KeyType.VLAN, plain=False)
    return [
        f"host {host}",
        f"host {host} and tcp and port {port}",
        "udp and port 53",
        f"net {ipaddress.IPv6Network(f'{host6}/48', strict=False)}",
        f"vlan {vlan}",
        "after 5m ago and (icmp or ip proto 58)",
    ]


def _packets(pcap: bytes) -> list[bytes]:
    return [r.data for r in iter_pcap(io.BytesIO(pcap))[1]]


def run_demo(*, count: int = 20_000, seed: int = 1, out: Callable[[str], None] = print) -> int:
    t0 = time.monotonic()
    traffic = generate(seed=seed, count=count, profile="mixed")
    out(
        f"generated {len(traffic)} frames ({traffic.total_bytes / 1e6:.1f} MB, seed {seed}): "
        "IPv4/IPv6, TCP/UDP/SCTP/ICMP, VLAN, QinQ, MPLS, fragments, jumbo frames"
    )
    ok = True
    with Lab() as lab:
        out(f"lab: network namespace {lab.name}, veth gen0 -> cap0, both inside it")
        daemon = Stenographer(lab, lab.tmpdir / "steno", flags=FLAGS)
        daemon.make_certs()
        out(f"stenokeys: CA, server and client certificates in {daemon.cert_path}")
        daemon.start()
        out(f"stenographer: running (config {daemon.config_path}); it runs stenotype on cap0")

        sent = lab.send((traffic.data, traffic.offsets), rate=20_000)
        sent_at = time.monotonic()
        sent_ns = time.time_ns()  # the packets' capture time, for the answer key
        out(f"sent {sent.sent} frames at {sent.rate_pps:,.0f} packets/s")

        everything = "after 1h ago"
        while True:
            answer = daemon.stenoread(everything, "-w", "-")
            if answer.returncode == 0 and len(_packets(answer.stdout)) >= len(traffic):
                break
            if time.monotonic() - sent_at > 30:
                out(f"FAILED: only {len(_packets(answer.stdout))} packets queryable after 30 s")
                sys.stderr.write(daemon.log())
                return 1
            time.sleep(0.2)
        out(
            f"all {len(traffic)} packets queryable {time.monotonic() - sent_at:.1f} s after the "
            "last was sent (files rotate every 2 s in this demo; 60 s by default)"
        )
        stored = _packets(answer.stdout)
        same = collections.Counter(stored) == collections.Counter(traffic.frames())
        ok &= same
        out(f"check: every frame stored with identical bytes: {'yes' if same else 'NO'}")

        out("")
        out(
            "stenoread, as an analyst runs it (answers checked against the generator's answer key):"
        )
        now = datetime.now(UTC)
        for query in _queries(traffic):
            node = parse(query, now=now)
            want = collections.Counter(
                traffic.frame(i)
                for i in range(len(traffic))
                if matches(node, traffic.keys(i), sent_ns)
            )
            got = collections.Counter(_packets(daemon.stenoread(query, "-w", "-").stdout))
            match = got == want
            ok &= match
            out(f"  $ stenoread '{query}'")
            verdict = "ok" if match else "MISMATCH"
            out(f"    {sum(got.values())} packets (expected {sum(want.values())}) {verdict}")
            shown = daemon.stenoread(query, "-nn", "-q", "-c", "2")
            for line in shown.stdout.decode().splitlines():
                out(f"    {line}")

        bad = daemon.stenoread("port 80 junk")
        out("  $ stenoread 'port 80 junk'")
        for line in bad.stderr.decode().strip().splitlines()[-3:]:
            out(f"    {line}")
        ok &= bad.returncode != 0

        stats = daemon.curl("/debug/stats").stdout.decode().splitlines()
        out("")
        out("stenocurl /debug/stats (excerpt):")
        for line in stats:
            if line.split("\t")[0] in (
                "current_files",
                "steno_capture_packets_total_0",
                "steno_queries_total_ok",
            ):
                out(f"  {line}")

        status = daemon.stop()
        out(f"stenographer: stopped with status {status}")
        ok &= status == 0
        dirs = ThreadDirs(0, daemon.base / "thread0" / "packets", daemon.base / "thread0" / "index")
        visible, hidden = names(dirs.packets)
        packet_bytes = sum(dirs.packet_path(n).stat().st_size for n in visible)
        index_bytes = sum(dirs.index_path(n).stat().st_size for n in visible)
        out(
            f"on disk: {len(visible)} packet files ({packet_bytes / 1e6:.1f} MB), their indexes "
            f"({index_bytes / 1e3:.0f} kB: {index_bytes / len(traffic):.1f} bytes per packet, "
            f"{100 * index_bytes / max(packet_bytes, 1):.2f}% of the packets), {len(hidden)} hidden"
        )
    out("")
    out(f"demo {'passed' if ok else 'FAILED'} in {time.monotonic() - t0:.1f} s")
    return 0 if ok else 1


def main() -> int:
    return run_demo()


if __name__ == "__main__":
    sys.exit(main())
