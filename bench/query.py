"""Query benchmark: steno's server against upstream's ``stenographer``, same traffic.

Run: ``python -m bench.query`` as root (``./dev.sh`` installs what it needs;
``nox -s querybench``); ``--quick`` for a smoke run.  See ``bench/README-query.md``.

One run:

1. **Traffic.**  The lab's seeded generator makes ``--distinct`` frames of the
   ``mixed`` profile (realistic flows, IPv4 and IPv6, TCP/UDP/ICMP/SCTP…,
   VLAN, QinQ, MPLS, fragments, frame sizes from 60 to 9000 bytes, mean about
   760); the lab's C sender goes round them, paced at ``--rate``, until
   ``--packets`` have been sent.  Repeated frames are fine for timing.
2. **Two stores from the same packets.**  Upstream's server (its own
   ``stenotype``, one thread) and steno's ``stenotype`` capture on ``cap0`` at
   the same time, each with its own AF_PACKET socket and no fanout, so both
   see every packet.  Drops are what was sent minus what each stored.  Then
   steno's daemon starts on steno's store, with upstream's certificates.
3. **Disk bandwidth**, in the same run: an O_DIRECT sequential read of
   upstream's largest packet file, and a buffered read of it just evicted.
4. **Queries.**  Eight, as the issue names them, plus an empty answer for the
   fixed cost of each side.  For each query and each of steno's server,
   upstream's server and ``stenoquery``: steno's daemon is restarted (it keeps
   maps between queries, and a mapped page cannot be evicted), the stores'
   files are evicted from the page cache (``posix_fadvise DONTNEED``), the
   query runs (cold), and runs
   again (warm; an answer quicker than 2 s five times, the median reported).
   Both servers are asked the same way: curl, mutual TLS, ``POST /query`` on
   the lab namespace's loopback.  ``stenoquery --dir`` on
   steno's store is the extra, local column.
5. JSON with every number and a Markdown table with ratios (steno's server /
   upstream's), under ``bench/results/``.

Both stores are built under a temporary directory and deleted at the end.
"""

from __future__ import annotations

import argparse
import collections
import ipaddress
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from bench.query_measure import (
    DiskRead,
    Stream,
    block_device,
    cached_bytes,
    count_packets,
    evict,
    process_cpu,
    read_cold,
    read_direct,
    run_stream,
    store_files,
)
from bench.query_profile import profile_query
from bench.query_report import render_markdown
from steno.lab.answer_key import matches
from steno.lab.curl import CURL
from steno.lab.daemon_run import Stenographer, venv_tool
from steno.lab.generator import Traffic, generate
from steno.lab.netns import Lab
from steno.lab.stenotype_run import Stenotype
from steno.lab.truth import KeyType
from steno.lab.upstream_server import (
    STENOGRAPHER,
    STENOKEYS,
    STENOREAD,
    STENOTYPE,
    UpstreamServer,
    make_certs,
)
from steno.query import parse
from steno.query.times import format_rfc3339
from steno.store.naming import ThreadDirs, is_hidden, parse_micros

RESULTS = Path(__file__).parent / "results"
WARM_REPEATS = 5  # warm runs of a quick answer; the median is reported
QUICK_S = 2.0
NS = 1_000_000_000
ABSENT_HOST = "198.19.255.254"
"""In the generator's server range but never drawn: an empty answer."""


@attrs.frozen(kw_only=True)
class Params:
    packets: int
    distinct: int
    rate: float
    profile: str
    seed: int
    ring_mb: int
    fileage_sec: int
    window_s: int
    timeout: float
    out: Path


def upstream_flags(p: Params) -> list[str]:
    return [
        "--uid=root",
        "--gid=root",
        f"--blocks={p.ring_mb}",
        "--aiops=64",
        f"--fileage_sec={p.fileage_sec}",
        "--blockage_sec=1",
        "--no_watchdogs",  # else an idle link aborts it (issue #94); see upstream_server.py
        "-v",
    ]


def daemon_flags(p: Params) -> list[str]:
    """The daemon's stenotype only idles on cap0 while its server answers: a small ring."""
    return ["--blocks=16", "--aiops=4", f"--fileage_sec={p.fileage_sec}", "--blockage_sec=1"]


def steno_flags(p: Params) -> list[str]:
    return [
        "--threads=1",
        f"--blocks={p.ring_mb}",
        "--aiops=64",
        f"--fileage_sec={p.fileage_sec}",
        "--blockage_sec=1",
    ]


# -- the queries ------------------------------------------------------------------------


@attrs.frozen
class BenchQuery:
    name: str
    text: str
    kind: str  # "selective", "broad" or "fixed"
    truth: int | None = None
    """Packets steno should return, from the generator's truth (key-only queries)."""


def _times_sent(p: Params, i: int) -> int:
    """How often the sender sent frame i, going round the distinct frames."""
    return (p.packets - i - 1) // p.distinct + 1 if i < p.packets else 0


def _truth_count(p: Params, traffic: Traffic, text: str) -> int:
    node = parse(text, now=datetime.now(UTC))
    hits = [matches(node, t.keys) for t in traffic.truths]
    return sum(_times_sent(p, i) for i in range(len(traffic)) if hits[traffic.truth_ids[i]])


@attrs.frozen
class Picks:
    host: str
    host_packets: int
    port: int
    vlan: int
    flow_hosts: tuple[str, str]
    flow_ports: tuple[int, int]
    flow_packets: int


def pick(traffic: Traffic) -> Picks:
    """Query parameters from the traffic, by rule (so by seed), not by hand."""
    n = len(traffic)
    per_truth = collections.Counter(traffic.truth_ids)
    hosts: collections.Counter[int] = collections.Counter()
    inner_vlans: collections.Counter[int] = collections.Counter()
    flows: collections.Counter[tuple[tuple[int, ...], tuple[int, ...]]] = collections.Counter()
    for tid, count in per_truth.items():
        t = traffic.truths[tid]
        v4 = tuple(sorted(v for k, v in t.keys if k is KeyType.IPV4))
        ports = tuple(sorted(v for k, v in t.keys if k is KeyType.PORT))
        for a in v4:
            hosts[a] += count
        outer = t.outer_tag.vid if t.outer_tag is not None else None
        for k, v in t.keys:
            if k is KeyType.VLAN and v != outer:  # upstream sees inner tags only
                inner_vlans[v] += count
        if (KeyType.PROTO, 6) in t.keys and len(v4) == 2 and len(ports) == 2:
            flows[(v4, ports)] += count
    # One host: the IPv4 address whose share is nearest 0.2 % of the packets.
    host, host_packets = min(hosts.items(), key=lambda hv: (abs(hv[1] - n * 0.002), hv[0]))
    # Its commonest TCP or UDP port (upstream indexes no SCTP, DCCP or UDP-Lite ports).
    port_counts: collections.Counter[int] = collections.Counter()
    for tid, count in per_truth.items():
        t = traffic.truths[tid]
        if (KeyType.IPV4, host) in t.keys and t.keys & {(KeyType.PROTO, 6), (KeyType.PROTO, 17)}:
            for k, v in t.keys:
                if k is KeyType.PORT:
                    port_counts[v] += count
    port = min(port_counts.items(), key=lambda pv: (-pv[1], pv[0]))[0]
    vlan = min(inner_vlans.items(), key=lambda vv: (-vv[1], vv[0]))[0]
    (v4, ports), flow_packets = min(flows.items(), key=lambda fc: (-fc[1], fc[0]))
    return Picks(
        host=str(ipaddress.IPv4Address(host)),
        host_packets=host_packets,
        port=port,
        vlan=vlan,
        flow_hosts=(str(ipaddress.IPv4Address(v4[0])), str(ipaddress.IPv4Address(v4[1]))),
        flow_ports=(ports[0], ports[1]),
        flow_packets=flow_packets,
    )


def _rfc3339(ns: int) -> str:
    return format_rfc3339(ns // NS * NS)


def queries(p: Params, traffic: Traffic, picks: Picks, window: tuple[int, int]) -> list[BenchQuery]:
    after, before = _rfc3339(window[0]), _rfc3339(window[1])
    (a, b), (x, y) = picks.flow_hosts, picks.flow_ports
    keyed = [
        ("empty answer", f"host {ABSENT_HOST}", "fixed"),
        ("one host", f"host {picks.host}", "selective"),
        ("host and port", f"host {picks.host} and port {picks.port}", "selective"),
        ("a /16", "net 198.18.0.0/16", "broad"),
        ("port 53", "port 53", "selective"),
        ("tcp", "tcp", "broad"),
        ("a VLAN", f"vlan {picks.vlan}", "selective"),
    ]
    out = [BenchQuery(n, text, kind, _truth_count(p, traffic, text)) for n, text, kind in keyed]
    minutes = (window[1] - window[0]) / 60 / NS
    out.append(
        BenchQuery(f"{minutes:g}-minute window", f"after {after} and before {before}", "broad")
    )
    out.append(
        BenchQuery(
            "Security Onion form",
            f"before {before} and after {after} and host {a} and host {b} "
            f"and port {x} and port {y}",
            "selective",
        )
    )
    return out


# -- capture ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Side:
    stored: int
    files: int
    packet_bytes: int
    index_bytes: int
    hidden_files: int
    log_drops: int | None

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _last_drops(log: str) -> int | None:
    found = re.findall(r"drops=(\d+)", log)
    return int(found[-1]) if found else None


def _side(pkt_dir: Path, idx_dir: Path, log: str, *, sealed_only: bool) -> Side:
    names = [n for n in os.listdir(pkt_dir) if parse_micros(n) is not None]
    visible = [n for n in names if not is_hidden(n)]
    indexed = {n for n in os.listdir(idx_dir) if not is_hidden(n)}
    counted = [n for n in visible if n in indexed] if sealed_only else names
    return Side(
        stored=sum(count_packets(pkt_dir / n) for n in counted),
        files=len(counted),
        packet_bytes=sum((pkt_dir / n).stat().st_size for n in counted),
        index_bytes=sum((idx_dir / n).stat().st_size for n in counted if n in indexed),
        hidden_files=len(names) - len(visible),
        log_drops=_last_drops(log),
    )


def capture(
    p: Params, lab: Lab, traffic: Traffic, upstream: UpstreamServer, steno: Stenotype
) -> dict[str, Any]:
    seconds = p.packets / p.rate
    print(
        f"capture: {p.packets:,} packets at {p.rate:,.0f}/s (~{seconds:.0f} s), "
        "both stenotypes at once",
        flush=True,
    )
    t0 = time.time_ns()
    cpu_server0 = process_cpu(upstream.stenotype_pids()[0])
    assert steno.proc is not None
    cpu_steno0 = process_cpu(steno.proc.pid)
    sent = lab.send(
        (traffic.data, traffic.offsets),
        count=p.packets,
        rate=p.rate,
        max_seconds=seconds * 1.5 + 60,
    )
    t1 = time.time_ns()
    cpu_upstream = process_cpu(upstream.stenotype_pids()[0]) - cpu_server0
    cpu_steno = process_cpu(steno.proc.pid) - cpu_steno0
    print(f"  sent {sent.sent:,} in {(t1 - t0) / NS:.1f} s ({sent.rate_pps:,.0f}/s)", flush=True)
    time.sleep(2)  # > blockage_sec: the last blocks leave the rings
    status = steno.stop(timeout=120)
    udirs = upstream.dirs(0)
    hidden = [n for n in os.listdir(udirs.packets) if is_hidden(n)]
    deadline = time.monotonic() + p.fileage_sec * 2 + 30
    while not {n[1:] for n in hidden} <= set(upstream.sealed(0)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"upstream did not seal {hidden}:\n{upstream.log()[-3000:]}")
        time.sleep(1)
    sealed = upstream.sealed(0)
    upstream.wait_tracked([(0, n) for n in sealed], timeout=60)
    steno_dirs = steno.dirs(0)
    up = _side(udirs.packets, udirs.index, upstream.log(), sealed_only=True)
    st = _side(steno_dirs.packets, steno_dirs.index, steno.log(), sealed_only=False)
    print(
        f"  stored: upstream {up.stored:,} in {up.files} files, steno {st.stored:,} in "
        f"{st.files} files (steno exit {status})",
        flush=True,
    )
    return {
        "sent": sent.as_dict(),
        "send_start_ns": t0,
        "send_end_ns": t1,
        "capture_cpu_s": {"upstream_stenotype": cpu_upstream, "steno_stenotype": cpu_steno},
        "upstream": up.as_dict(),
        "steno": st.as_dict(),
        "steno_exit": status,
    }


# -- running queries --------------------------------------------------------------------

SYSTEMS = ("steno", "upstream", "stenoquery")
"""Who answers: steno's daemon and upstream's server, both asked with curl over
mutual TLS inside the lab (the comparison), and ``stenoquery`` reading steno's
store locally (an extra column: the engine without TLS, HTTP or a server)."""


@attrs.frozen
class Sides:
    lab: Lab
    upstream: UpstreamServer
    daemon: Stenographer
    steno_base: Path
    steno_dirs: ThreadDirs
    timeout: float
    device: str | None = None
    """The stores' block device, for the bytes each run made it read."""

    def restart_daemon(self) -> None:
        """steno's daemon stopped and started again: no maps kept, nothing cached in it."""
        self.daemon.stop()
        self.daemon.start(ready_timeout=120)
        wait_until_served(self.daemon, self.steno_dirs)

    def stenoquery_argv(self, query: str) -> list[str]:
        return [sys.executable, "-m", "steno.cli.stenoquery", "--dir", str(self.steno_base), query]

    def server_pid(self, system: str) -> int:
        server = {"steno": self.daemon.proc, "upstream": self.upstream.proc}.get(system)
        return server.pid if server is not None else 0

    def curl_argv(self, system: str, path: str, data: str | None = None) -> list[str]:
        if system == "steno":
            return self.daemon.curl_argv(path, data=data, max_time=self.timeout)
        return self.upstream.curl_argv(path, data=data, max_time=self.timeout)

    def start(self, system: str, query: str) -> Callable[[int], subprocess.Popen[Any]]:
        if system == "stenoquery":
            argv = self.stenoquery_argv(query)

            def start_local(stdout: int) -> subprocess.Popen[Any]:
                return subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE)

            return start_local
        argv = self.curl_argv(system, "/query", query)

        def start_curl(stdout: int) -> subprocess.Popen[Any]:
            return self.lab.popen(argv, stdout=stdout, stderr=subprocess.PIPE)

        return start_curl


def _stop_local(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    for s in (proc.stdout, proc.stderr):
        if s is not None:
            s.close()


def run_one(sides: Sides, system: str, query: str) -> dict[str, Any]:
    local = system == "stenoquery"
    server_pid = sides.server_pid(system)
    cpu0 = process_cpu(server_pid) if server_pid else 0.0
    stream = run_stream(
        sides.start(system, query),
        timeout=sides.timeout if local else sides.timeout + 10,  # curl has --max-time
        stop=_stop_local if local else sides.lab.stop,
        device=sides.device,
    )
    d = _stream_dict(stream)
    if local:
        d["ok"] = stream.exit_status == 0 and stream.complete
        return d
    d["server_cpu_s"] = process_cpu(server_pid) - cpu0
    tail = stream.stderr.strip().splitlines()
    d["http_status"] = int(tail[-1][-3:]) if tail and tail[-1][-3:].isdigit() else None
    d["ok"] = stream.exit_status == 0 and d["http_status"] == 200 and stream.complete
    return d


def run_warm(sides: Sides, system: str, query: str) -> dict[str, Any]:
    """The warm run: for an answer quicker than ``QUICK_S`` the median of
    ``WARM_REPEATS`` runs, since one stray pause of the VM (tens of ms, seen
    in repeated runs) is as long as the whole answer.  Every run's time is kept."""
    runs = [run_one(sides, system, query)]
    if runs[0]["seconds"] < QUICK_S:
        runs += [run_one(sides, system, query) for _ in range(WARM_REPEATS - 1)]
    chosen = dict(sorted(runs, key=lambda r: float(r["seconds"]))[len(runs) // 2])
    chosen["warm_runs_s"] = [r["seconds"] for r in runs]
    chosen["ok"] = all(r["ok"] for r in runs)
    return chosen


def _stream_dict(s: Stream) -> dict[str, Any]:
    d = attrs.asdict(s)
    d["mb_per_s"] = s.mb_per_s
    d["us_per_packet"] = s.us_per_packet
    d["disk_mb_per_s"] = s.disk_mb_per_s
    return d


def run_queries(
    sides: Sides, qs: Sequence[BenchQuery], evict_files: Callable[[], list[Path]]
) -> list[dict[str, Any]]:
    rows = []
    for k, q in enumerate(qs):
        # Who goes first turns with each query: the page cache and the disk's
        # mood are not always on the same side.
        order = SYSTEMS[k % len(SYSTEMS) :] + SYSTEMS[: k % len(SYSTEMS)]
        row: dict[str, Any] = {"name": q.name, "query": q.text, "kind": q.kind, "truth": q.truth}
        for system in order:
            # Cold means that no process has the files mapped: steno's daemon
            # keeps its maps between queries, and posix_fadvise cannot evict
            # a mapped page, so it starts afresh first (untimed).
            sides.restart_daemon()
            files = evict_files()
            evict(files)
            left = cached_bytes(files)
            cold = run_one(sides, system, q.text)
            warm = run_warm(sides, system, q.text)
            row[system] = {"cold": cold, "warm": warm, "cached_after_evict": left}
            print(
                f"  {q.name:<22} {system:<10} cold {cold['seconds']:8.2f} s  "
                f"warm {warm['seconds']:8.2f} s  {warm['packets']:>10,} pkts  "
                f"{warm['mb_per_s']:8.1f} MB/s" + ("" if cold["ok"] and warm["ok"] else "  FAILED"),
                flush=True,
            )
        rows.append(row)
    return rows


def fixed_costs(sides: Sides, repeat: int = 3) -> dict[str, Any]:
    """The cost of asking at all: TLS and a request, each side's own client,
    the interpreter and imports of a local stenoquery."""

    def timed(start: Callable[[], subprocess.Popen[Any]], stop: Callable[..., object]) -> float:
        t0 = time.perf_counter()
        proc = start()
        proc.communicate(timeout=120)
        seconds = time.perf_counter() - t0
        stop(proc)
        return seconds

    lab = sides.lab

    def in_lab(argv: list[str], env: dict[str, str] | None = None) -> Callable[[], float]:
        return lambda: timed(
            lambda: lab.popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
            lab.stop,
        )

    empty = [f"host {ABSENT_HOST}", "-w", "/dev/null"]
    probes: dict[str, Callable[[], float]] = {
        "steno: curl /debug/stats (TLS handshake, one request)": in_lab(
            sides.curl_argv("steno", "/debug/stats")
        ),
        "upstream: curl /debug/stats (TLS handshake, one request)": in_lab(
            sides.curl_argv("upstream", "/debug/stats")
        ),
        f"steno: its stenoread 'host {ABSENT_HOST}' -w /dev/null": in_lab(
            [venv_tool("stenoread"), *empty], sides.daemon.env
        ),
        f"upstream: its stenoread 'host {ABSENT_HOST}' -w /dev/null": in_lab(
            [STENOREAD, *empty], sides.upstream.client_env
        ),
        "stenoquery --help (interpreter and imports)": lambda: timed(
            lambda: subprocess.Popen(
                [sys.executable, "-m", "steno.cli.stenoquery", "--help"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            ),
            _stop_local,
        ),
    }
    out = {}
    for name, probe in probes.items():
        samples = [probe() for _ in range(repeat)]
        out[name] = {"median_s": statistics.median(samples), "samples_s": samples}
        print(f"  {name}: {statistics.median(samples) * 1000:.0f} ms", flush=True)
    return out


def start_daemon(p: Params, lab: Lab, base: Path, steno: Stenotype) -> Stenographer:
    """steno's daemon serving the store steno's stenotype built, with upstream's
    certificates (the same keys and CA for both servers).

    Its own stenotype captures on cap0, where nothing is sent any more: it adds
    an empty file every ``--fileage_sec``, which changes no answer.  Retention
    cannot touch the store (1 % disk free, 30,000 files)."""
    daemon = Stenographer(
        lab,
        base / "daemon",
        flags=daemon_flags(p),
        dirs=[steno.dirs(0)],
        cert_dir=base / "certs",
        extra={"QueryTimeoutSec": int(p.timeout)},
    )
    daemon.start(ready_timeout=120)
    wait_until_served(daemon, steno.dirs(0))
    return daemon


def wait_until_served(daemon: Stenographer, d: ThreadDirs) -> None:
    """Returns once the daemon's catalogue holds every sealed file of d."""
    want = {n for n in os.listdir(d.index) if not is_hidden(n) and parse_micros(n)}
    deadline = time.monotonic() + 120
    while not want <= daemon.tracked(0):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the daemon does not serve {want}:\n{daemon.log()[-3000:]}")
        time.sleep(0.5)


# -- main ---------------------------------------------------------------------------------


def preflight() -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("run as root (a lab namespace, raw sockets)")
    for tool in (STENOGRAPHER, STENOTYPE, STENOKEYS, STENOREAD, CURL):
        if not Path(tool).exists():
            problems.append(f"{tool} is missing (apt-get install stenographer stenographer-client)")
    for tool in ("jq", "openssl", "fincore"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} is missing")
    if problems:
        sys.exit("bench.query: " + "; ".join(problems))


def environment() -> dict[str, Any]:
    mem = Path("/proc/meminfo").read_text().split("\n")[0]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "memory": mem.split(":")[1].strip(),
        "python": platform.python_version(),
        "upstream": "Debian stenographer 1.0.1",
    }


def measure_disk(upstream: UpstreamServer) -> list[DiskRead]:
    d = upstream.dirs(0)
    biggest = max((d.packets / n for n in upstream.sealed(0)), key=lambda f: f.stat().st_size)
    reads = [read_direct(biggest), read_cold(biggest), read_direct(biggest)]
    for r in reads:
        print(f"  disk: {r.method}: {r.mb_per_s:,.0f} MB/s ({r.nbytes / 1e9:.2f} GB)", flush=True)
    return reads


def run(p: Params) -> dict[str, Any]:
    preflight()
    t_gen = time.monotonic()
    traffic = generate(seed=p.seed, count=p.distinct, profile=p.profile)
    print(
        f"traffic: {len(traffic):,} distinct {p.profile} frames, mean "
        f"{traffic.total_bytes / len(traffic):.0f} bytes ({time.monotonic() - t_gen:.0f} s)",
        flush=True,
    )
    picks = pick(traffic)
    result: dict[str, Any] = {
        "environment": environment(),
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in attrs.asdict(p).items()},
        "picks": attrs.asdict(picks),
        "traffic": {
            "distinct": len(traffic),
            "mean_frame_bytes": traffic.total_bytes / len(traffic),
        },
    }
    with Lab() as lab:
        base = lab.tmpdir
        print(f"stores under {base}", flush=True)
        upstream = UpstreamServer(
            lab, base / "upstream", threads=1, flags=upstream_flags(p), cert_dir=base / "certs"
        )
        steno = Stenotype(lab, base / "steno", *steno_flags(p))
        daemon: Stenographer | None = None
        try:
            make_certs(base / "certs")
            upstream.start()
            steno.start()
            result["upstream_flags"] = upstream_flags(p)
            result["steno_argv"] = steno.argv()
            result["capture"] = cap = capture(p, lab, traffic, upstream, steno)
            span = cap["send_end_ns"] - cap["send_start_ns"]
            width = min(p.window_s * NS, span // 3) // NS * NS
            start = cap["send_start_ns"] + (span - width) // 2
            start = (start + NS - 1) // NS * NS
            qs = queries(p, traffic, picks, (start, start + width))
            result["window_ns"] = [start, start + width]
            print("steno's daemon, serving steno's store:", flush=True)
            daemon = start_daemon(p, lab, base, steno)
            result["daemon_config"] = json.loads(daemon.config_path.read_text())
            print("disk read bandwidth:", flush=True)
            disk = measure_disk(upstream)
            sides = Sides(
                lab,
                upstream,
                daemon,
                steno.base,
                steno.dirs(0),
                p.timeout,
                block_device(steno.base),
            )
            print("fixed costs:", flush=True)
            result["fixed_costs"] = fixed_costs(sides)
            print("queries (cold: stores evicted first; warm: run again):", flush=True)

            def all_store_files() -> list[Path]:
                dirs = [*upstream.all_dirs(), steno.dirs(0)]
                return store_files([x for d in dirs for x in (d.packets, d.index)])

            result["queries"] = run_queries(sides, qs, all_store_files)
            print("where steno's time goes (warm, in-process, pcap to /dev/null):", flush=True)
            result["steno_profile"] = []
            for q in qs:
                profile_query(steno.base, q.text)  # warm it first: later queries evicted it
                prof = profile_query(steno.base, q.text)
                result["steno_profile"].append(prof | {"name": q.name})
                print(
                    f"  {q.name:<22} {prof['wall_s']:7.3f} s: C {prof['c_s']:7.3f} s, "
                    f"Python and the rest {prof['python_and_other_s']:7.3f} s",
                    flush=True,
                )
            disk += measure_disk(upstream)
            result["disk"] = [attrs.asdict(r) | {"mb_per_s": r.mb_per_s} for r in disk]
            result["upstream_log_tail"] = upstream.log()[-3000:]
            result["daemon_log_tail"] = daemon.log()[-3000:]
            result["daemon_files_added"] = len(
                [n for n in os.listdir(steno.dirs(0).packets) if parse_micros(n) is not None]
            ) - int(cap["steno"]["files"])
        finally:
            try:
                if daemon is not None and daemon.proc is not None and daemon.proc.poll() is None:
                    daemon.stop()
            finally:
                if steno.proc is not None and steno.proc.poll() is None:
                    lab.stop(steno.proc, 30)
                upstream.stop()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.query", description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=10_000_000, help="packets to send (10M)")
    ap.add_argument("--distinct", type=int, default=300_000, help="distinct frames (300k)")
    ap.add_argument("--rate", type=float, default=50_000, help="packets per second (50k)")
    ap.add_argument("--profile", default="mixed", help="generator profile (mixed)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--ring-mb", type=int, default=512, help="each stenotype's ring, MiB")
    ap.add_argument("--fileage-sec", type=int, default=60, help="file rotation (upstream's 60)")
    ap.add_argument("--window-s", type=int, default=60, help="the time window query's width")
    ap.add_argument("--timeout", type=float, default=1200.0, help="per query run, seconds")
    ap.add_argument("--quick", action="store_true", help="1M packets, 100k distinct: a smoke run")
    ap.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.packets, args.distinct = min(args.packets, 1_000_000), min(args.distinct, 100_000)
    out = args.out or RESULTS / ("query-quick" if args.quick else "query")
    p = Params(
        packets=args.packets,
        distinct=args.distinct,
        rate=args.rate,
        profile=args.profile,
        seed=args.seed,
        ring_mb=args.ring_mb,
        fileage_sec=args.fileage_sec,
        window_s=args.window_s,
        timeout=args.timeout,
        out=out,
    )
    result = run(p)
    markdown = render_markdown(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown)
    print(markdown)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
