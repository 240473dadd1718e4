"""steno against upstream's own server, on the files upstream wrote.

Debian's ``stenographer`` 1.0.1 (two threads, its own ``stenotype``) captures
generated ``mixed`` traffic in a lab, sent in two bursts a file rotation
apart.  Then, for each query of a table, the answer of upstream's server
(``POST /query`` over mutual TLS) is compared with the answer of
``stenoquery --config`` reading the same store, and both with what they
should be:

* **steno** must return exactly the packets whose keys *in upstream's index*
  match (``tests/lab/upstream_contract.py`` re-derives them from the stored
  frame, reference §2.8) and whose capture time lies in the query's window,
  per packet (``docs/query-language.md``).  On upstream's files steno can only
  answer with upstream's keys: ``docs/upstream-compat.md``.
* **upstream** must return the packets whose keys match and whose *file* was
  opened within a minute of the time bounds (``before T``: file name ≤ T + 1
  min; ``after T``: ≥ T - 1 min; reference §5.4).
* Without time bounds the two answers must be the same packets with the same
  timestamps, in time order.

The differences, each asserted by its own kind of case:

1. ``TIME``: upstream's time bounds are file-granular with a minute's slack;
   steno's are exact.
2. ``TRUNCATED``: upstream silently ignores everything from the first
   character its lexer does not know (``port 80 junk`` is ``port 80``) and
   reads ``080`` as 80; steno refuses the query (exit 2, a message naming the
   token).  ``STENO_REFUSES`` covers what upstream accepts with a meaning of
   its own (``vlan 4096``, a non-contiguous mask).
3. ``UPSTREAM_REFUSES``: upper-case IPv6 text, which steno accepts.
4. Keys upstream indexes differently (outer VLAN tag, ports read from later
   IPv4 fragments, IPv6 later fragments under ``ip proto 44``): on upstream's
   files steno answers with upstream's keys, so these are ``SAME`` cases, and
   the test checks that they are indeed not what the generator's truth says.
5. Output format: steno puts back the outer VLAN tag the kernel took off
   (``tp_vlan_tci``), upstream does not; and the pcap header's snaplen is
   262144 (steno) against 65536 (upstream).  Records are therefore compared
   by the frame they hold, and :func:`test_output_format_differences`
   pins the byte-level differences.
"""

from __future__ import annotations

import collections
import enum
import io
import ipaddress
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from steno.lab.answer_key import matches
from steno.lab.generator import Traffic, generate
from steno.lab.netns import Lab
from steno.lab.pcap import PcapRecord, iter_pcap
from steno.lab.truth import Key, KeyType
from steno.lab.upstream_server import STENOREAD, UpstreamServer, make_certs
from steno.query import ast, parse
from steno.query.times import format_rfc3339
from steno.store.packet_file import PacketFile
from tests.lab.upstream_contract import upstream_keys_of

pytestmark = [pytest.mark.lab, pytest.mark.upstream, pytest.mark.slow]

FRAMES = 4000
SLOP_NS = 60 * 1_000_000_000
"""Upstream widens a time bound by a minute and compares it with file names."""
MINUTE = 60 * 1_000_000_000
UPSTREAM_SNAPLEN = 65536
STENO_SNAPLEN = 262144
TP_STATUS_VLAN_VALID = 0x10
_HDR = struct.Struct("<IIIIIIHHIIH")  # tpacket3_hdr up to tp_vlan_tpid


@attrs.frozen
class Stored:
    """One packet of upstream's store, and what each program should know of it."""

    frame: int  # the generator's frame number
    thread: int
    file_ns: int  # the packet file's name, as nanoseconds
    ts_ns: int
    keys: frozenset[Key]  # what upstream's index lists it under
    truth: frozenset[Key]  # what the generator says (steno's own index would say)
    wire_len: int  # tp_len: the length without the tag the kernel removed
    outer_tci: int | None


@attrs.frozen(eq=False)
class World:
    lab: Lab
    server: UpstreamServer
    traffic: Traffic
    packets: tuple[Stored, ...]  # in capture time order
    by_wire: dict[bytes, int]
    by_captured: dict[bytes, int]

    @property
    def first_ns(self) -> int:
        return self.packets[0].ts_ns

    @property
    def last_ns(self) -> int:
        return self.packets[-1].ts_ns


def _stored(server: UpstreamServer, traffic: Traffic) -> list[Stored]:
    by_captured = {traffic.captured(i)[0]: i for i in range(len(traffic))}
    out = []
    for thread in range(server.threads):
        dirs = server.dirs(thread)
        for name in server.sealed(thread):
            with PacketFile(dirs.packet_path(name)) as pf:
                for block in pf.blocks():
                    data = block.data
                    p = struct.unpack_from("<I", data, 16)[0]  # offset_to_first_pkt
                    for k in range(block.info.num_pkts):
                        nxt, sec, nsec, snap, wire, status, mac, _, _, tci, _ = _HDR.unpack_from(
                            data, p
                        )
                        frame = bytes(data[p + mac : p + mac + snap])
                        i = by_captured[frame]
                        out.append(
                            Stored(
                                frame=i,
                                thread=thread,
                                file_ns=int(name) * 1000,
                                ts_ns=sec * 1_000_000_000 + nsec,
                                keys=upstream_keys_of(frame),
                                truth=traffic.keys(i),
                                wire_len=wire,
                                outer_tci=tci if status & TP_STATUS_VLAN_VALID else None,
                            )
                        )
                        if k + 1 < block.info.num_pkts:
                            p += nxt
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    certs = make_certs(tmp_path_factory.mktemp("certs"))
    traffic = generate(seed=61, count=FRAMES, profile="mixed")
    half = FRAMES // 2
    with Lab() as lab:
        server = UpstreamServer(lab, lab.tmpdir / "upstream", threads=2, cert_dir=certs)
        try:
            server.start()
            for part in (traffic.offsets[: half + 1], traffic.offsets[half:]):
                if part[0]:
                    time.sleep(3.5)  # > fileage_sec + blockage_sec: the next file
                result = lab.send((traffic.data, part), rate=20_000)
                assert result.sent == len(part) - 1, result
            deadline = time.monotonic() + 30
            while True:
                packets = _stored(server, traffic)
                if len(packets) >= FRAMES:
                    break
                assert time.monotonic() < deadline, f"{len(packets)} of {FRAMES} sealed"
                time.sleep(0.3)
            assert sorted(p.frame for p in packets) == list(range(FRAMES)), "lost or doubled"
            names = {(p.thread, str(p.file_ns // 1000)) for p in packets}
            server.wait_tracked(names)
            packets.sort(key=lambda p: p.ts_ns)
            yield World(
                lab=lab,
                server=server,
                traffic=traffic,
                packets=tuple(packets),
                by_wire={traffic.frame(i): i for i in range(FRAMES)},
                by_captured={traffic.captured(i)[0]: i for i in range(FRAMES)},
            )
        finally:
            server.stop()


# -- the table ----------------------------------------------------------------------------


class Kind(enum.Enum):
    SAME = "same packets"
    TIME = "upstream file-granular (±1 min), steno exact"
    TRUNCATED = "upstream ignores trailing input; steno refuses"
    STENO_REFUSES = "upstream accepts with a meaning of its own; steno refuses"
    UPSTREAM_REFUSES = "upstream refuses; steno answers"
    BOTH_REFUSE = "both refuse"


KeyTest = Callable[[frozenset[Key]], bool]


@attrs.frozen
class Case:
    query: str
    kind: Kind = Kind.SAME
    upstream: str | KeyTest | None = None
    """What upstream answers instead, when it reads the query differently:
    another query text, or a test on a packet's (upstream) keys."""
    upstream_text: str = ""
    """For the report, when ``upstream`` is a test."""


def _counts(world: World, kind: KeyType, *, source: str = "keys") -> collections.Counter[int]:
    return collections.Counter(v for p in world.packets for k, v in getattr(p, source) if k is kind)


def _popular(world: World, kind: KeyType, rank: int = 0) -> int:
    return _counts(world, kind).most_common()[rank][0]


def _rare(world: World, kind: KeyType) -> int:
    counts = _counts(world, kind)
    return min(counts, key=lambda v: (counts[v], v))


def _t(ns: int) -> str:
    return format_rfc3339(ns)


def cases(world: World) -> list[Case]:
    """Every primitive, both families, nesting, time windows, empty answers, and
    each way the two are known to differ."""
    v4 = ipaddress.IPv4Address(_popular(world, KeyType.IPV4))
    v4b = ipaddress.IPv4Address(_popular(world, KeyType.IPV4, 5))
    v4rare = ipaddress.IPv4Address(_rare(world, KeyType.IPV4))
    v6 = ipaddress.IPv6Address(_popular(world, KeyType.IPV6))
    v6b = ipaddress.IPv6Address(_popular(world, KeyType.IPV6, 3))
    port = _popular(world, KeyType.PORT)
    port2 = _popular(world, KeyType.PORT, 2)
    rare_port = _rare(world, KeyType.PORT)
    vlan = _popular(world, KeyType.VLAN)
    label = _popular(world, KeyType.MPLS)
    net24 = ipaddress.IPv4Network(f"{v4}/24", strict=False)
    net64 = ipaddress.IPv6Network(f"{v6}/64", strict=False)
    net48 = ipaddress.IPv6Network(f"{v6}/48", strict=False)
    # Keys upstream has and the truth has not, and the reverse.
    outer_only = sorted(
        {p.outer_tci & 0xFFF for p in world.packets if p.outer_tci is not None}
        - set(_counts(world, KeyType.VLAN))
    )[0]
    fragment_port = sorted(
        {v for p in world.packets for k, v in p.keys - p.truth if k is KeyType.PORT}
        - set(_counts(world, KeyType.PORT, source="truth"))
    )[0]
    # A flow of the second burst, for the Security Onion form.
    so = next(
        p
        for p in world.packets[len(world.packets) // 2 + 50 :]
        if {k for k, _ in p.keys} >= {KeyType.IPV4, KeyType.PORT} and (KeyType.PROTO, 6) in p.keys
    )
    so_hosts = sorted(ipaddress.IPv4Address(v) for k, v in so.keys if k is KeyType.IPV4)
    so_ports = sorted(v for k, v in so.keys if k is KeyType.PORT)
    ts = [p.ts_ns for p in world.packets]
    middle = ts[len(ts) // 2 + 101]
    gap = max(range(1, len(ts)), key=lambda i: ts[i] - ts[i - 1])
    quarter, three_quarters = ts[len(ts) // 4], ts[3 * len(ts) // 4]
    first, last = ts[0], ts[-1]
    mask_lo, mask_hi = int(v4) & 0xFFFF00FF, int(v4) | 0x0000FF00

    def in_mask_range(keys: frozenset[Key]) -> bool:
        return any(k is KeyType.IPV4 and mask_lo <= v <= mask_hi for k, v in keys)

    T, X = Kind.TIME, Kind.TRUNCATED
    return [
        # Primitives, both families.
        Case(f"host {v4}"),
        Case(f"host {v4rare}"),
        Case(f"host {v6}"),
        Case(f"host {v6b}"),
        Case(f"host ::ffff:{v4}"),
        Case(f"net {net24}"),
        Case("net 198.18.0.0/16"),
        Case("net 198.18.0.0/15"),
        Case("net 0.0.0.0/0"),
        Case(f"net {net24.network_address} mask 255.255.255.0"),
        Case(f"net {net64}"),
        Case("net 2001:db8::/32"),
        Case(f"net {net48.network_address} mask ffff:ffff:ffff::"),
        Case(f"port {port}"),
        Case(f"port {rare_port}"),
        Case("port 53"),
        Case("tcp"),
        Case("udp"),
        Case("icmp"),
        Case("ip proto 58"),
        Case("ip proto 132"),
        Case(f"vlan {vlan}"),
        Case(f"mpls {label}"),
        # Keys upstream indexes differently; steno answers with upstream's index.
        Case(f"vlan {outer_only}"),  # an outer tag only: upstream never indexed it
        Case(f"port {fragment_port}"),  # payload bytes of a later IPv4 fragment
        Case("ip proto 44"),  # IPv6 later fragments
        # Nesting, and equal precedence of and/or.
        Case(f"host {v4} and port {port}"),
        Case(f"host {v4} or host {v4b} or host {v6b}"),
        Case("udp and port 53 or tcp and port 443"),
        Case("(udp and port 53) or (tcp and port 443)"),
        Case(f"(port {port} or (host {v4b} and tcp)) or vlan {vlan}"),
        Case(f"vlan {vlan} and (tcp or udp)"),
        Case(f"mpls {label} and (icmp or udp or tcp)"),
        Case(f"ipproto 6 and port{port}"),  # keywords run together, as upstream
        # Empty answers.
        Case("tcp and udp"),
        Case("host 198.19.255.254"),
        Case(f"port {port} and port {rare_port} and host 2001:db8:ffff::1"),
        # Time: exact for steno, files within a minute for upstream.
        Case(f"after {_t(middle)}", T),
        Case(f"before {_t(middle)}", T),
        Case(f"after {_t(quarter)} and before {_t(three_quarters)}", T),
        Case(f"after {_t(ts[gap])}", T),
        Case(f"before {_t(ts[gap])} and net 2001:db8::/32", T),
        Case(
            f"before {_t(so.ts_ns + 1)} and after {_t(so.ts_ns)} and host {so_hosts[0]} and "
            f"host {so_hosts[-1]} and port {so_ports[0]} and port {so_ports[-1]}",
            T,
        ),
        Case(f"(port {port} and after {_t(middle)}) or (host {v6} and before {_t(middle)})", T),
        Case(f"tcp or after {_t(three_quarters)}", T),
        Case("after 10m ago", T),
        Case("before 10m ago", T),
        Case(f"after {_t(last + 3 * MINUTE)}", T),
        Case(f"before {_t(first - 3 * MINUTE)}", T),
        Case(f"after {_t(first - 30 * 10**9)} and before {_t(last + 30 * 10**9)} and udp", T),
        # Upstream's silent truncation: steno refuses.
        Case(f"port {port} junk", X, f"port {port}"),
        Case("tcp AND udp", X, "tcp"),
        Case("tcpdump", X, "tcp"),
        Case(f"port {port},{port2}", X, f"port {port}"),
        Case(f"host {v4};", X, f"host {v4}"),
        Case("port 0x50", X, "port 0"),
        Case(f"port 0{port}", X, f"port {port}"),
        # Accepted by upstream with a meaning of its own.
        Case("vlan 4096", Kind.STENO_REFUSES, "tcp and udp"),
        Case(
            f"net {v4} mask 255.255.0.255",
            Kind.STENO_REFUSES,
            in_mask_range,
            f"{ipaddress.IPv4Address(mask_lo)}-{ipaddress.IPv4Address(mask_hi)}",
        ),
        # Refused by upstream only.
        Case(f"host {str(v6).upper()}", Kind.UPSTREAM_REFUSES),
        # Refused by both.
        Case("port 77777", Kind.BOTH_REFUSE),
        Case("(tcp", Kind.BOTH_REFUSE),
        Case("tcp and", Kind.BOTH_REFUSE),
    ]


N_CASES = 63


# -- running and judging ------------------------------------------------------------------


def upstream_matches(node: ast.Node, keys: frozenset[Key], file_ns: int) -> bool:
    """Reference §5.4: keys per packet, time bounds per file with a minute's slack."""
    match node:
        case ast.Before(t):
            return file_ns <= t + SLOP_NS
        case ast.After(t):
            return file_ns >= t - SLOP_NS
        case ast.And(operands):
            return all(upstream_matches(op, keys, file_ns) for op in operands)
        case ast.Or(operands):
            return any(upstream_matches(op, keys, file_ns) for op in operands)
    return matches(node, keys, 0)


Answer = collections.Counter[tuple[int, int]]
"""(frame number, microsecond timestamp) -> how often."""


def _records(data: bytes) -> tuple[int, list[PcapRecord]]:
    header, records = iter_pcap(io.BytesIO(data))
    return header.snaplen, list(records)


def _identify(world: World, records: list[PcapRecord], table: dict[bytes, int]) -> list[int]:
    frames = []
    for r in records:
        assert r.data in table, f"a record that is no frame sent: {r.data[:40].hex()}"
        frames.append(table[r.data])
    return frames


def _answer(world: World, records: list[PcapRecord], table: dict[bytes, int]) -> Answer:
    times = [r.ts_ns for r in records]
    assert times == sorted(times), "not in time order"
    return collections.Counter(
        zip(_identify(world, records, table), (r.ts_ns // 1000 for r in records), strict=True)
    )


def stenoquery(world: World, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "steno.cli.stenoquery",
            "--config",
            str(world.server.config_path),
            *args,
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )


def steno_answer(world: World, query: str) -> Answer:
    proc = stenoquery(world, query)
    assert proc.returncode == 0, proc.stderr.decode()
    snaplen, records = _records(proc.stdout)
    assert snaplen == STENO_SNAPLEN
    return _answer(world, records, world.by_wire)


def upstream_answer(world: World, query: str, **limits: int) -> Answer:
    got = world.server.query(query, **limits)
    assert got.status == 200, (got.status, got.body[:200])
    snaplen, records = _records(got.body)
    assert snaplen == UPSTREAM_SNAPLEN
    return _answer(world, records, world.by_captured)


def expect(world: World, test: Callable[[Stored], bool]) -> Answer:
    return collections.Counter((p.frame, p.ts_ns // 1000) for p in world.packets if test(p))


def test_the_table_is_complete(world: World) -> None:
    table = cases(world)
    assert len(table) == N_CASES
    assert len({c.query for c in table}) == N_CASES
    assert len([c for c in table if c.kind in (Kind.SAME, Kind.TIME)]) >= 25


REPORT: dict[str, tuple[str, int | str, int | str, str]] = {}


@pytest.mark.parametrize("i", range(N_CASES))
def test_steno_and_upstream_server_agree_or_differ_as_documented(world: World, i: int) -> None:
    case = cases(world)[i]
    now = datetime.now(UTC)
    q = case.query
    if case.kind is Kind.BOTH_REFUSE:
        assert world.server.query(q).status == 400
        proc = stenoquery(world, q)
        assert proc.returncode == 2 and b"at character" in proc.stderr, proc.stderr
        REPORT[q] = (case.kind.name, "400", "error", "")
        return
    if case.kind is Kind.UPSTREAM_REFUSES:
        got = world.server.query(q)
        assert (got.status, got.body) == (400, b"could not parse query\n")
        node = parse(q, now=now)
        steno = steno_answer(world, q)
        assert steno == expect(world, lambda p: matches(node, p.keys, p.ts_ns))
        REPORT[q] = (case.kind.name, "400", steno.total(), "")
        return

    up_reads = case.upstream if case.upstream is not None else q
    if isinstance(up_reads, str):
        up_node = parse(up_reads, now=now)

        def up_test(p: Stored) -> bool:
            return upstream_matches(up_node, p.keys, p.file_ns)
    else:
        key_test = up_reads

        def up_test(p: Stored) -> bool:
            return key_test(p.keys)

    upstream = upstream_answer(world, q)
    assert upstream == expect(world, up_test), f"upstream, {q!r}: not as reference §5.4 says"

    if case.kind in (Kind.TRUNCATED, Kind.STENO_REFUSES):
        proc = stenoquery(world, q)
        assert proc.returncode == 2, proc.stderr.decode()
        assert proc.stdout == b""
        assert b"at character" in proc.stderr
        ran = case.upstream_text or up_reads
        REPORT[q] = (case.kind.name, upstream.total(), "error", f"upstream ran {ran!r}")
        return

    node = parse(q, now=now)
    steno = steno_answer(world, q)
    assert steno == expect(world, lambda p: matches(node, p.keys, p.ts_ns)), f"steno, {q!r}"
    if case.kind is Kind.SAME:
        assert steno == upstream, q
        truth = expect(world, lambda p: matches(node, p.truth, p.ts_ns))
        note = "" if truth == steno else f"generator's truth: {truth.total()}"
        REPORT[q] = (case.kind.name, upstream.total(), steno.total(), note)
    else:
        assert steno <= upstream or not steno, q  # upstream only ever adds (whole files)
        REPORT[q] = (case.kind.name, upstream.total(), steno.total(), "")


def test_keys_upstream_indexes_differently_are_upstream_s_on_its_files(world: World) -> None:
    """The SAME cases of the outer VLAN tag and of fragments are real differences
    from the generator's truth, which steno's own index would answer."""
    outer = {p.outer_tci & 0xFFF for p in world.packets if p.outer_tci is not None}
    assert outer - set(_counts(world, KeyType.VLAN)), "no outer-only VLAN in the traffic"
    assert any((k is KeyType.PORT) for p in world.packets for k, _ in p.keys - p.truth), (
        "no later IPv4 fragment with payload read as ports"
    )
    assert any(
        (KeyType.PROTO, 44) in p.keys and (KeyType.PROTO, 44) not in p.truth for p in world.packets
    )


def test_limits_cut_the_same_packets(world: World) -> None:
    upstream = world.server.query("tcp", limit_packets=7)
    _, up = _records(upstream.body)
    proc = stenoquery(world, "--limit-packets", "7", "tcp")
    _, st = _records(proc.stdout)
    assert len(up) == len(st) == 7
    assert _identify(world, up, world.by_captured) == _identify(world, st, world.by_wire)

    # Bytes as upstream counts them (16 + caplen per packet, 16 for the header),
    # each over its own records (steno's tagged ones are 4 bytes longer).
    def upstream_cut(budget: int) -> int:
        return len(_records(world.server.query("tcp", limit_bytes=budget).body)[1])

    def steno_cut(budget: int) -> int:
        return len(_records(stenoquery(world, "--limit-bytes", str(budget), "tcp").stdout)[1])

    for recs, cut in ((up, upstream_cut), (st, steno_cut)):
        budget = 16 + sum(16 + len(r.data) for r in recs[:3])
        assert cut(budget) == 3
        assert cut(budget + 1) == 4


def test_output_format_differences(world: World) -> None:
    """Same packets, same timestamps; steno restores the outer VLAN tag (and
    counts it in both lengths), upstream does not; the snaplen in the header."""
    tagged = next(p for p in world.packets if p.outer_tci is not None)
    host = next(
        ipaddress.ip_address(v) for k, v in tagged.keys if k in (KeyType.IPV4, KeyType.IPV6)
    )
    query = f"host {host}"
    up = world.server.query(query)
    up_snap, up_recs = _records(up.body)
    proc = stenoquery(world, query)
    st_snap, st_recs = _records(proc.stdout)
    assert (up_snap, st_snap) == (UPSTREAM_SNAPLEN, STENO_SNAPLEN)
    wire, captured = world.traffic.frame(tagged.frame), world.traffic.captured(tagged.frame)[0]
    (u,) = [r for r in up_recs if r.data == captured]
    (s,) = [r for r in st_recs if r.data == wire]
    assert len(wire) == len(captured) + 4
    assert (u.orig_len, s.orig_len) == (tagged.wire_len, tagged.wire_len + 4)
    assert u.ts_ns == s.ts_ns


def test_steno_reads_the_servers_directory_of_symlinks(world: World, tmp_path: Path) -> None:
    """``--dir`` on the temporary directory the server gave stenotype."""
    base = world.server.symlink_dir()
    assert (base / "PKT1").is_symlink()
    proc = subprocess.run(
        [sys.executable, "-m", "steno.cli.stenoquery", "--dir", str(base), "udp"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert _answer(world, _records(proc.stdout)[1], world.by_wire) == upstream_answer(world, "udp")


def test_stenoread_upstream_client_gets_the_same(world: World, tmp_path: Path) -> None:
    """Upstream's own client (stenocurl, curl, tcpdump) against steno."""
    v4 = ipaddress.IPv4Address(_popular(world, KeyType.IPV4))
    out = tmp_path / "stenoread.pcap"
    proc = world.lab.popen(
        [STENOREAD, f"host {v4}", "-w", str(out)],
        env=world.server.client_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, err = proc.communicate(timeout=60)
    world.lab.stop(proc)
    assert proc.returncode == 0, err
    _, records = _records(out.read_bytes())
    via_stenoread = _answer(world, records, world.by_captured)
    assert via_stenoread == steno_answer(world, f"host {v4}")
    assert via_stenoread.total() > 0


def test_zz_print_the_differences(world: World) -> None:
    """Not a check: the table for the report (pytest -s)."""
    print(f"\n{'kind':<17} {'upstream':>8} {'steno':>8}  query / note")
    for q, (kind, up, st, note) in REPORT.items():
        print(f"{kind:<17} {up!s:>8} {st!s:>8}  {q}" + (f"   [{note}]" if note else ""))
