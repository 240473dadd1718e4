"""The query benchmark's Markdown: tables with ratios (steno / upstream) and the targets."""

from __future__ import annotations

import statistics
from typing import Any

SELECTIVE_RATIO = 0.5
"""Target: selective queries in at most half of upstream's time."""
BROAD_SHARE = 0.8
"""Target: broad queries stream at least at this share of the disk's read bandwidth."""


def _f(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return a / b


def _pair(st: float | None, up: float | None, digits: int = 2, ratio: bool = True) -> str:
    text = f"{_f(st, digits)} / {_f(up, digits)}"
    r = _ratio(st, up) if ratio else None
    return text + (f" (**{r:.2f}**)" if r is not None else "")


def disk_bandwidth(result: dict[str, Any]) -> tuple[float, float]:
    """(O_DIRECT, buffered cold) MB/s: the median of the run's reads of each kind
    (the virtual disk varies by tens of percent from one read to the next)."""
    reads = result["disk"]
    direct = statistics.median(d["mb_per_s"] for d in reads if d["method"].startswith("O_DIRECT"))
    buffered = statistics.median(d["mb_per_s"] for d in reads if d["method"].startswith("buffered"))
    return direct, buffered


def _run(row: dict[str, Any], system: str, cache: str) -> dict[str, Any]:
    run: dict[str, Any] = row[system][cache]
    return run


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target, per query and cache state: the number, the bar, met or not."""
    direct, buffered = disk_bandwidth(result)
    rows = result["queries"]
    empty = next((r for r in rows if r["kind"] == "fixed"), None)
    out: list[dict[str, Any]] = []
    for row in rows:
        for cache in ("cold", "warm"):
            st, up = _run(row, "steno", cache), _run(row, "upstream", cache)
            if row["kind"] == "selective":
                r = _ratio(st["seconds"], up["seconds"])
                t = {
                    "target": f"selective: completion <= {SELECTIVE_RATIO}x upstream's",
                    "query": row["name"],
                    "cache": cache,
                    "value": r,
                    "met": r is not None and r <= SELECTIVE_RATIO,
                }
                if empty is not None:
                    # Each side's answer time without its own fixed cost (an empty
                    # answer): start-up, TLS, catalogue.
                    st0 = _run(empty, "steno", cache)["seconds"]
                    up0 = _run(empty, "upstream", cache)["seconds"]
                    t["net"] = _ratio(max(st["seconds"] - st0, 0.0), max(up["seconds"] - up0, 1e-3))
                out.append(t)
            elif row["kind"] == "broad":
                # Warm, the answer itself must flow that fast; cold, the disk must
                # be kept that busy (the answer is a share of what is read).
                rate = st["mb_per_s"] if cache == "warm" else st.get("disk_mb_per_s") or 0.0
                what = "pcap MB/s" if cache == "warm" else "disk MB/s read during the query"
                share = rate / direct
                out.append(
                    {
                        "target": f"broad: steno's {what} >= {BROAD_SHARE}x the disk's "
                        f"(O_DIRECT {direct:,.0f} MB/s)",
                        "query": row["name"],
                        "cache": cache,
                        "value": share,
                        "also": rate / buffered,
                        "met": share >= BROAD_SHARE,
                    }
                )
    by_name = {r["name"]: r for r in rows}
    host, net = by_name.get("one host"), by_name.get("a /16")
    if host is not None and net is not None:
        for cache in ("cold", "warm"):
            h = _run(host, "steno", cache)["us_per_packet"]
            n = _run(net, "steno", cache)["us_per_packet"]
            out.append(
                {
                    "target": "wide net: steno µs per packet of the /16 <= of one host",
                    "query": "a /16 vs one host",
                    "cache": cache,
                    "value": _ratio(n, h),
                    "met": h is not None and n is not None and n <= h,
                }
            )
    return out


def _disk(run: dict[str, Any]) -> str:
    nbytes, rate = run.get("disk_read"), run.get("disk_mb_per_s")
    if nbytes is None:
        return "-"
    return f"{nbytes / 1e9:.2f}" + (f" ({rate:,.0f})" if rate and nbytes > 50e6 else "")


def _table(result: dict[str, Any], cache: str) -> list[str]:
    lines = [
        "| query | class | packets steno / upstream (truth) | TTFB s | completion s | "
        "MB/s | µs per packet | CPU s (steno / upstream server) | disk read GB (MB/s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["queries"]:
        st, up = _run(row, "steno", cache), _run(row, "upstream", cache)
        truth = "" if row["truth"] is None else f" ({row['truth']:,})"
        flags = ""
        if not st["ok"] or not up["ok"]:
            flags = " ⚠ " + ", ".join(
                f"{name} failed" for name, r in (("steno", st), ("upstream", up)) if not r["ok"]
            )
        lines.append(
            f"| {row['name']}{flags} | {row['kind']} | "
            f"{st['packets']:,} / {up['packets']:,}{truth} | "
            f"{_pair(st['first_packet'], up['first_packet'], 3)} | "
            f"{_pair(st['seconds'], up['seconds'])} | "
            f"{_pair(st['mb_per_s'], up['mb_per_s'], 1)} | "
            f"{_pair(st['us_per_packet'], up['us_per_packet'], 2)} | "
            f"{_f(st['child_cpu'])} / {_f(up.get('server_cpu_s'))} | "
            f"{_disk(st)} / {_disk(up)} |"
        )
    return lines


def render_markdown(result: dict[str, Any]) -> str:
    env, p, cap = result["environment"], result["params"], result["capture"]
    up, st = cap["upstream"], cap["steno"]
    sent = cap["sent"]["sent"]
    direct, buffered = disk_bandwidth(result)
    span = (cap["send_end_ns"] - cap["send_start_ns"]) / 1e9
    lines = [
        "# Query benchmark: steno vs upstream Stenographer",
        "",
        f"One run, {env['date']}, on {env['cpus']} vCPUs and {env['memory']} of memory "
        f"(kernel {env['kernel']}); `python -m bench.query`"
        + (" (a quick run)" if p["packets"] < 10_000_000 else "")
        + ".  Same traffic for both: upstream's `stenographer` (its own `stenotype`) and "
        "steno's `stenotype` captured it at the same time.  **steno has no server yet**: its "
        "numbers are `stenoquery --dir` reading the store locally, writing pcap to a pipe; "
        "upstream's are curl asking its HTTPS server (TLS, HTTP) inside the lab namespace, "
        "also to a pipe.  Ratios are steno / upstream (below 1: steno is faster).",
        "",
        "## The stores",
        "",
        f"{result['traffic']['distinct']:,} distinct `{p['profile']}` frames (mean "
        f"{result['traffic']['mean_frame_bytes']:.0f} bytes) sent round and round: "
        f"{sent:,} packets in {span:.0f} s ({sent / span:,.0f}/s asked {p['rate']:,.0f}/s).",
        "",
        "| | upstream | steno |",
        "|---|---|---|",
        f"| packets stored | {up['stored']:,} | {st['stored']:,} |",
        f"| lost (sent - stored) | {sent - up['stored']:,} | {sent - st['stored']:,} |",
        f"| drops in the last stats line | {up['log_drops']} | {st['log_drops']} |",
        f"| packet files | {up['files']} ({up['packet_bytes'] / 1e9:.2f} GB) | "
        f"{st['files']} ({st['packet_bytes'] / 1e9:.2f} GB) |",
        f"| index files | {up['index_bytes'] / 1e6:,.0f} MB | {st['index_bytes'] / 1e6:,.0f} MB |",
        f"| stenotype CPU during capture | {cap['capture_cpu_s']['upstream_stenotype']:.0f} s | "
        f"{cap['capture_cpu_s']['steno_stenotype']:.0f} s |",
        "",
        "## Disk read bandwidth (same run, upstream's largest packet file)",
        "",
        f"Medians: **O_DIRECT {direct:,.0f} MB/s**, buffered cold {buffered:,.0f} MB/s "
        "(the targets use the O_DIRECT median).  Each read, before and after the queries:",
        "",
    ]
    for d in result["disk"]:
        lines.append(f"- {d['method']}: **{d['mb_per_s']:,.0f} MB/s** ({d['nbytes'] / 1e9:.2f} GB)")
    lines += [
        "",
        "## Fixed costs (median of 3, warm)",
        "",
        "| what | ms |",
        "|---|---|",
    ]
    for name, v in result["fixed_costs"].items():
        lines.append(f"| {name} | {v['median_s'] * 1000:.0f} |")
    lines += ["", "## Queries", ""]
    for row in result["queries"]:
        lines.append(f"- **{row['name']}**: `{row['query']}`")
    lines += [
        "",
        "TTFB: time to the first byte of the first packet (byte 25 of the pcap stream), "
        "from starting `stenoquery` / curl.  Completion: to the end of the stream.  "
        "MB/s: pcap bytes delivered per second of completion.  Truth: what the generator's "
        "ground truth says steno should return (key-only queries).  Disk read: bytes the "
        "stores' disk read during the run (/proc/diskstats, system-wide), and per second of "
        "completion when it is more than 50 MB.",
        "",
        "### Cold cache (both stores evicted with posix_fadvise DONTNEED first)",
        "",
        *_table(result, "cold"),
        "",
        "### Warm cache (the same query again)",
        "",
        *_table(result, "warm"),
    ]
    if result.get("steno_profile"):
        lines += [
            "",
            "### Where steno's time goes",
            "",
            "`stenoquery`'s `main` in the benchmark's process under cProfile, warm, pcap to "
            "/dev/null: no interpreter start-up, imports, pipe or reader (compare with the "
            "warm completion above and the fixed costs).",
            "",
            "| query | wall s | in C s | of which packet extraction s | index and set ops s | "
            "Python and the rest s |",
            "|---|---|---|---|---|---|",
        ]
        for prof in result["steno_profile"]:
            c = prof["c_by_function_s"]
            extract = sum(v for k, v in c.items() if "extract" in k)
            index = sum(v for k, v in c.items() if "index" in k or "set" in k)
            lines.append(
                f"| {prof['name']} | {prof['wall_s']:.3f} | {prof['c_s']:.3f} | "
                f"{extract:.3f} | {index:.3f} | {prof['python_and_other_s']:.3f} |"
            )
    lines += [
        "",
        "## Targets",
        "",
        "| target | query | cache | value | met |",
        "|---|---|---|---|---|",
    ]
    for t in targets(result):
        value = _f(t["value"])
        if "also" in t:
            value += f" (vs buffered {buffered:,.0f} MB/s: {t['also']:.2f})"
        if "net" in t:
            value += f" (net of each side's empty-answer time: {_f(t['net'])})"
        lines.append(
            f"| {t['target']} | {t['query']} | {t['cache']} | {value} | "
            f"{'yes' if t['met'] else '**no**'} |"
        )
    lines.append("")
    return "\n".join(lines)
