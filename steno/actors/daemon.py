"""The ``stenographer`` daemon: its actors under one supervisor.

::

    stenographer
      Supervisor ─┬─ StoreActor    the catalogue of sealed files (rescans every second)
                  ├─ CaptureActor  stenotype, restarted with backoff, its stats read
                  ├─ CleanupActor  retention: disk free, file count, age
                  └─ QueryActor    HTTPS (mutual TLS): /query, /debug/*, /metrics

The supervisor starts them in that order and each reports started only once
it is really up (the store has scanned, stenotype is running, the listener
accepts), so ``on_ready`` -- systemd's READY=1 -- tells the truth.  SIGTERM
or SIGINT cancel the tree: stenotype seals its files, queries in flight are
cut off, the run directory is removed.
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
from steno.actors.query import QueryActor, tls_listeners
from steno.actors.stats import Stats
from steno.actors.store import StoreActor
from steno.actors.supervisor import Supervisor
from steno.config import Config
from steno.store.naming import ThreadDirs
from steno.store.open_files import OpenFiles
from steno.store.retention import ThreadLimits
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


def run_directory(env: Mapping[str, str]) -> Path:
    """Where stenotype's PKT<n>/IDX<n> symlinks go: systemd's RuntimeDirectory if
    there is one, else a new private directory under $TMPDIR (as upstream)."""
    runtime = env.get("RUNTIME_DIRECTORY")
    if runtime:
        return Path(runtime.split(":")[0]) / "stenotype"
    return Path(tempfile.mkdtemp(prefix="stenographer"))


async def _bound_listeners(
    config: Config, inherited: Sequence[socket.socket]
) -> list[trio.SocketListener]:
    if inherited:
        return [trio.SocketListener(trio.socket.from_stdlib_socket(s)) for s in inherited]
    return list(await trio.open_tcp_listeners(config.port, host=config.host))


async def _watch_signals(cancel: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.warning("Got %s: stopping", signal.Signals(signum).name)
            cancel.cancel()
            return


async def run_daemon(
    config: Config,
    *,
    sockets: Sequence[socket.socket] = (),
    env: Mapping[str, str] | None = None,
    on_ready: Callable[[Daemon], None] | None = None,
    extra: Callable[[Daemon, trio.Nursery], Any] | None = None,
) -> None:
    env = os.environ if env is None else env
    stats = Stats()
    open_files = OpenFiles(config.max_open_files)
    dirs = thread_dirs(config)
    for d in dirs:
        for path in (d.packets, d.index):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)  # as upstream
    context = server_context(config.cert_path)
    listeners = await _bound_listeners(config, sockets)
    run_dir = run_directory(env)

    store = StoreActor(dirs, stats)
    capture = CaptureActor(
        stenotype=config.stenotype_path or default_stenotype(),
        flags=config.flags,
        interface=config.interface,
        dirs=dirs,
        run_dir=run_dir,
        stats=stats,
        latest_file_ns=store.latest_file_ns,
        restart_max=float(config.stenotype_restart_max_sec),
    )
    limits = {
        i: ThreadLimits(
            max_files=t.max_directory_files,
            disk_free_percent=t.disk_free_percentage,
            max_age_ns=t.max_age_hours * 3600 * 10**9 if t.max_age_hours else None,
        )
        for i, t in enumerate(config.threads)
    }
    cleanup = CleanupActor(store, limits, stats, open_files)
    query = QueryActor(
        tls_listeners(listeners, context),
        store,
        stats,
        open_files,
        config_json=config.to_json,
        timeout=float(config.query_timeout_sec),
        max_concurrent=config.max_concurrent_queries,
    )
    supervisor = Supervisor(on_restart=lambda name, exc: stats.actor_restarts.labels(name).inc())
    daemon = Daemon(config, stats, store, capture, cleanup, query, supervisor)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(_watch_signals, nursery.cancel_scope)
        for actor in (store, capture, cleanup, query):
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
        if extra is not None:
            extra(daemon, nursery)
        if on_ready is not None:
            on_ready(daemon)
