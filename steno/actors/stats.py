"""The daemon's counters: for ``/metrics`` (Prometheus) and ``/debug/stats`` (upstream's form).

One :class:`Stats` object is created by the daemon and handed to the actors
that report (capture, store, cleanup, query); nothing reaches it through a
global.  The metric objects are prometheus_client's, which are safe to update
from any thread (queries run in worker threads).

Capture numbers come from stenotype's stats lines, whose counters restart
from zero when stenotype restarts; :meth:`Stats.capture_sample` turns those
samples into totals that only grow, as Prometheus counters must.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


class Stats:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.capture_packets = Counter(
            "steno_capture_packets", "Packets captured", ["thread"], registry=r
        )
        self.capture_bytes = Counter(
            "steno_capture_bytes", "Bytes of ring blocks written", ["thread"], registry=r
        )
        self.capture_drops = Counter(
            "steno_capture_kernel_drops",
            "Packets the kernel dropped (ring full)",
            ["thread"],
            registry=r,
        )
        self.capture_lost = Counter(
            "steno_capture_lost_packets",
            "Packets captured but not stored (disk full or failing)",
            ["thread"],
            registry=r,
        )
        self.write_latency_avg = Gauge(
            "steno_capture_write_latency_avg_seconds",
            "Mean block write latency since stenotype started",
            ["thread"],
            registry=r,
        )
        self.write_latency_max = Gauge(
            "steno_capture_write_latency_max_seconds",
            "Longest block write since stenotype started",
            ["thread"],
            registry=r,
        )
        self.stenotype_restarts = Counter(
            "steno_stenotype_restarts", "Times stenotype was started again", registry=r
        )
        self.stenotype_up = Gauge("steno_stenotype_up", "1 while stenotype runs", registry=r)
        self.files = Gauge("steno_store_files", "Sealed packet files", ["thread"], registry=r)
        self.store_bytes = Gauge(
            "steno_store_bytes", "Bytes of packet and index files", ["thread"], registry=r
        )
        self.oldest = Gauge(
            "steno_store_oldest_packet_timestamp_seconds",
            "Capture time of the oldest packet kept",
            ["thread"],
            registry=r,
        )
        self.newest = Gauge(
            "steno_store_newest_packet_timestamp_seconds",
            "Capture time of the newest packet queryable",
            ["thread"],
            registry=r,
        )
        self.deleted = Counter(
            "steno_cleanup_deleted_files",
            "Files deleted by retention",
            ["thread", "reason"],
            registry=r,
        )
        self.queries = Counter("steno_queries", "Queries by outcome", ["outcome"], registry=r)
        self.query_seconds = Histogram(
            "steno_query_duration_seconds",
            "Time from request to the last byte",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 900),
            registry=r,
        )
        self.query_packets = Counter(
            "steno_query_packets", "Packets returned by queries", registry=r
        )
        self.query_bytes = Counter("steno_query_bytes", "Bytes returned by queries", registry=r)
        self.actor_restarts = Counter(
            "steno_actor_restarts", "Internal actors restarted", ["actor"], registry=r
        )
        self._lock = threading.Lock()
        self._cumulative: dict[tuple[str, int], int] = {}
        self._upstream = {
            "current_files": 0,
            "aged_files": 0,
            "oldest_timestamp": 0,
            "removed_hidden_files": 0,
            "removed_mismatched_files": 0,
        }

    def capture_restarted(self) -> None:
        """stenotype started again: its counters start from zero."""
        with self._lock:
            self._cumulative.clear()

    def capture_total(self, counter: Counter, thread: int, value: int) -> None:
        """Folds one of stenotype's running totals into a counter that only grows."""
        key = (counter._name, thread)
        with self._lock:
            last = self._cumulative.get(key, 0)
            self._cumulative[key] = value
        counter.labels(str(thread)).inc(value - last if value >= last else value)

    def capture_totals(self) -> tuple[int, int]:
        """Packets captured and packets the kernel dropped, all threads, since start."""
        return _counter_sum(self.capture_packets), _counter_sum(self.capture_drops)

    def set_upstream(self, name: str, value: int) -> None:
        with self._lock:
            self._upstream[name] = value

    def add_upstream(self, name: str, delta: int) -> None:
        with self._lock:
            self._upstream[name] = self._upstream.get(name, 0) + delta

    def metrics(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

    def debug_stats(self) -> str:
        """Upstream's ``/debug/stats``: one ``name<TAB>value`` line per counter, sorted."""
        with self._lock:
            values = dict(self._upstream)
        for metric in self.registry.collect():
            for s in metric.samples:
                if s.name.endswith(("_created", "_bucket")):
                    continue
                label = "_".join(f"{v}" for v in s.labels.values())
                name = s.name + (f"_{label}" if label else "")
                values[name] = int(s.value) if float(s.value).is_integer() else s.value  # type: ignore[assignment]
        return "".join(f"{k}\t{values[k]}\n" for k in sorted(values))


def _counter_sum(counter: Counter) -> int:
    return int(
        sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))
    )
