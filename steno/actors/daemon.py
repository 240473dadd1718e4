"""The ``stenographer`` daemon: its actors under one supervisor.

::

    stenographer
      Supervisor ─┬─ StoreActor    the catalogue of sealed files (rescans every second)
                  ├─ CaptureActor  stenotype, restarted with backoff, its stats read
                  ├─ CleanupActor  retention: disk free, file count, age
                  ├─ QueryActor    HTTPS (mutual TLS): /query, /debug/*, /metrics
                  └─ NotifyActor   systemd: READY=1, STATUS=, WATCHDOG=1, STOPPING=1

The supervisor starts them in that order and each reports started only once
it is really up (the store has scanned, stenotype is running, the listener
accepts), so ``on_ready`` -- and systemd's READY=1, sent at the same moment --
tells the truth.  Every actor but notify beats a heartbeat; the notify actor
pings systemd's watchdog only while all of them do (``heartbeat.py``).
SIGTERM or SIGINT send STOPPING=1 and cancel the tree: stenotype seals its
files, queries in flight are cut off, the run directory is removed.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

from steno.actors.capture import CaptureActor
from steno.actors.cleanup import CleanupActor
from steno.actors.heartbeat import Liveness
from steno.actors.notify import Notifier, NotifyActor
from steno.actors.query import QueryActor, tls_listeners
from steno.actors.stats import Stats
from steno.actors.status import StatusReporter
from steno.actors.store import StoreActor
from steno.actors.supervisor import Supervisor
from steno.config import Config
from steno.store.naming import ThreadDirs
from steno.store.open_files import OpenFiles
from steno.store.retention import ThreadLimits
from steno.systemd import ServiceEnvironment
from steno.tls import server_context

log = logging.getLogger("steno.daemon")


@attrs.define
class Daemon:
    """The running daemon's parts, for the notify actor and for tests."""

    config: Config
    stats: Stats
    store: StoreActor
    capture: CaptureActor
    cleanup: CleanupActor
    query: QueryActor
    notify: NotifyActor
    liveness: Liveness
    supervisor: Supervisor


def default_stenotype() -> str:
    """steno's own stenotype: beside this Python (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "stenotype"
    if beside.exists():
        return str(beside)
    return shutil.which("stenotype") or "stenotype"


def thread_dirs(config: Config) -> list[ThreadDirs]:
    return [
        ThreadDirs(i, t.packets_directory, t.index_directory) for i, t in enumerate(config.threads)
    ]


def run_directory(runtime: str | None) -> Path:
    """Where stenotype's PKT<n>/IDX<n> symlinks go: systemd's RuntimeDirectory if
    there is one, else a new private directory under $TMPDIR (as upstream)."""
    if runtime:
        return Path(runtime.split(":")[0]) / "stenotype"
    return Path(tempfile.mkdtemp(prefix="stenographer"))


async def _bound_listeners(
    config: Config, inherited: Sequence[socket.socket]
) -> list[trio.SocketListener]:
    if inherited:
        for s in inherited:
            _check_inherited(config, s)
        return [trio.SocketListener(trio.socket.from_stdlib_socket(s)) for s in inherited]
    return list(await trio.open_tcp_listeners(config.port, host=config.host))


def _check_inherited(config: Config, sock: socket.socket) -> None:
    """Clients find the daemon at the config's Host:Port; a socket unit that
    listens elsewhere is served all the same, but named in a warning."""
    try:
        host, port = sock.getsockname()[:2]
    except (OSError, ValueError):
        return
    if port != config.port or (config.host and host != config.host):
        log.warning(
            "Serving on the inherited socket %s:%s, but the config says Host %s Port %d: "
            "clients (stenoread) use the config; make the socket unit's ListenStream= agree",
            host,
            port,
            config.host,
            config.port,
        )


async def _watch_signals(cancel: trio.CancelScope, on_signal: Callable[[], None]) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.warning("Got %s: stopping", signal.Signals(signum).name)
            on_signal()
            cancel.cancel()
            return


async def run_daemon(
    config: Config,
    *,
    sockets: Sequence[socket.socket] = (),
    env: Mapping[str, str] | None = None,
    service: ServiceEnvironment | None = None,
    on_ready: Callable[[Daemon], None] | None = None,
    extra: Callable[[Daemon, trio.Nursery], Any] | None = None,
    test_hooks: bool = False,
    status_interval: float = 5.0,
) -> None:
    """Runs the daemon until cancelled, SIGTERM or SIGINT.

    `service` is what systemd handed the process (``steno.systemd``); without
    it, `sockets` are the listeners to serve on (else the config's Host:Port
    is bound) and `env` is read for ``RUNTIME_DIRECTORY``.  `test_hooks`
    enables ``/debug/hang`` (tests only).
    """
    if service is None:
        env = os.environ if env is None else env
        service = ServiceEnvironment(
            sockets=tuple(sockets), runtime_directory=env.get("RUNTIME_DIRECTORY") or None
        )
    stats = Stats()
    liveness = Liveness()
    open_files = OpenFiles(config.max_open_files)
    dirs = thread_dirs(config)
    for d in dirs:
        for path in (d.packets, d.index):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)  # as upstream
    context = server_context(config.cert_path)
    listeners = await _bound_listeners(config, service.sockets)
    run_dir = run_directory(service.runtime_directory)

    store = StoreActor(dirs, stats, heartbeat=liveness.heartbeat("store"))
    capture = CaptureActor(
        stenotype=config.stenotype_path or default_stenotype(),
        flags=config.flags,
        interface=config.interface,
        dirs=dirs,
        run_dir=run_dir,
        stats=stats,
        latest_file_ns=store.latest_file_ns,
        restart_max=float(config.stenotype_restart_max_sec),
        heartbeat=liveness.heartbeat("capture"),
    )
    limits = {
        i: ThreadLimits(
            max_files=t.max_directory_files,
            disk_free_percent=t.disk_free_percentage,
            max_age_ns=t.max_age_hours * 3600 * 10**9 if t.max_age_hours else None,
        )
        for i, t in enumerate(config.threads)
    }
    cleanup = CleanupActor(
        store, limits, stats, open_files, heartbeat=liveness.heartbeat("cleanup")
    )
    query = QueryActor(
        tls_listeners(listeners, context),
        store,
        stats,
        open_files,
        config_json=config.to_json,
        timeout=float(config.query_timeout_sec),
        max_concurrent=config.max_concurrent_queries,
        heartbeat=liveness.heartbeat("query"),
        hang=_hang_hook(liveness) if test_hooks else None,
    )
    reporter = StatusReporter(
        interface=config.interface,
        threads=len(dirs),
        stats=stats,
        catalogue=lambda: store.snapshot,
        capturing=lambda: capture.capturing,
        paths=[p for d in dirs for p in (d.packets, d.index)],
    )
    notifier = Notifier(service.notify_address)
    notify = NotifyActor(
        notifier,
        liveness,
        reporter.line,
        watchdog_usec=service.watchdog_usec,
        status_interval=status_interval,
    )
    if notify.watchdog_interval is not None:
        log.info(
            "systemd watchdog: pinging every %.1f s while every actor makes progress",
            notify.watchdog_interval,
        )
    supervisor = Supervisor(on_restart=lambda name, exc: stats.actor_restarts.labels(name).inc())
    daemon = Daemon(config, stats, store, capture, cleanup, query, notify, liveness, supervisor)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, nursery.cancel_scope, notify.stopping)
            for actor in (store, capture, cleanup, query, notify):
                await supervisor.start(nursery, actor)
            addresses = ", ".join(
                f"{ln.socket.getsockname()[0]}:{ln.socket.getsockname()[1]}" for ln in listeners
            )
            log.info(
                "stenographer ready: capturing on %s with %d thread(s); queries on https://%s",
                config.interface,
                len(dirs),
                addresses,
            )
            notify.ready()
            if extra is not None:
                extra(daemon, nursery)
            if on_ready is not None:
                on_ready(daemon)
    finally:
        notifier.close()


def _hang_hook(liveness: Liveness) -> Callable[[str], bool]:
    def hang(name: str) -> bool:
        if name not in liveness.names:
            return False
        liveness[name].hang()
        return True

    return hang
