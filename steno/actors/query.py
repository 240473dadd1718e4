"""The query actor: the HTTPS service that answers queries and serves stats.

Endpoints, as upstream (``POST /query`` with the query as body, the limit
headers, ``/debug/stats``, ``/debug/config``, ``/debug/t<N>/files``) plus
``/metrics`` in Prometheus's format.  Every endpoint requires a client
certificate signed by the CA (mutual TLS, checked in the handshake: a client
without one never gets to send a request).

A query: its text is parsed (a bad query is a 400 whose body is the parser's
message, pointing at the token -- upstream said only "could not parse
query"), planned, and run by the engine in worker threads, chunk by chunk,
over the store's current catalogue, two chunks ahead of what TLS is
sending.  Packet files stay mapped between queries (``MappedFiles``; a
deleted file's map is let go of within a second of its last reader).  At
most ``max_concurrent`` run at once (more wait up to ``queue_timeout`` for a
slot, then get a 503), each within ``timeout`` seconds; a client that
disconnects cancels its query at once.
If a query fails after its answer began -- it timed out, a read failed -- the
response is cut off without its final chunk, so the client knows the pcap is
incomplete.

Test hook: with ``hang`` given (the daemon passes it only when started with
``STENO_TEST_HOOKS=1`` in its environment), ``POST /debug/hang`` with an
actor's name as body makes that actor hang (``heartbeat.py``), so tests can
watch systemd's watchdog restart the service.  Without it the path is a 404
like any unknown one.

Accept loop errors: ``trio.serve_listeners`` already retries the accept
errors that mean "out of descriptors or memory for now"; a failed TLS
handshake ends that one connection, logged at debug level.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import trio
from outcome import Error, Outcome, Value

from steno.actors.heartbeat import Heartbeat
from steno.actors.stats import METRICS_CONTENT_TYPE, Stats
from steno.actors.store import StoreActor
from steno.http.messages import AbortResponse, Request, Response, Send
from steno.http.serve import serve_connection
from steno.query import QuerySyntaxError, parse
from steno.query.engine import OutputFormat, QueryOptions, QueryRun, run_query
from steno.query.mapped_files import MappedFiles
from steno.query.plan import PlanError, plan
from steno.store.open_files import OpenFiles

log = logging.getLogger("steno.query")

_FILES_PATH = re.compile(r"/debug/t(\d+)/files")
_READ_AHEAD = 2  # chunks (1 MiB each) read before the client has taken them
_MAP_SWEEP_SECONDS = 1.0  # how soon a deleted file's kept map lets go of its space


class BadLimit(ValueError):
    pass


def parse_limit(value: str | None, name: str) -> int:
    """A limit header as upstream's Go server read it: base from the prefix
    (``0x`` hex, ``0b`` binary, ``0o`` or a leading ``0`` octal), 0 or absent = none.
    Negative values are refused (upstream turned them into one packet)."""
    if value is None or not value.strip():
        return 0
    text = value.strip().lower()
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    try:
        if digits.startswith("0x"):
            n = int(digits[2:], 16)
        elif digits.startswith("0b"):
            n = int(digits[2:], 2)
        elif digits.startswith("0o"):
            n = int(digits[2:], 8)
        elif digits.startswith("0") and len(digits) > 1:
            n = int(digits[1:], 8)
        else:
            n = int(digits, 10)
    except ValueError:
        raise BadLimit(f"{name}: {value!r} is not a number") from None
    if sign < 0 and n:
        raise BadLimit(f"{name}: {value!r} is negative")
    return n


class _QueryBody:
    """Streams one query's answer (see ``steno.http.messages.StreamingBody``)."""

    def __init__(
        self, actor: QueryActor, chunks: Iterator[bytes], run: QueryRun, text: str, peer: str
    ) -> None:
        self._actor = actor
        self._chunks = chunks
        self._run = run
        self._text = text
        self._peer = peer

    async def write_to(self, send: Send) -> None:
        actor = self._actor
        started = time.monotonic()
        outcome = "error"
        try:
            with trio.fail_after(actor.timeout):
                await self._send_read_ahead(send)
            outcome = "limited" if self._run.limited else "ok"
        except trio.TooSlowError:
            outcome = "timeout"
            raise AbortResponse(f"query ran longer than {actor.timeout:.0f} s") from None
        except trio.Cancelled:
            outcome = "cancelled"
            raise
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self._chunks.close)  # type: ignore[attr-defined]
            actor.finished(self._run, self._text, self._peer, outcome, time.monotonic() - started)

    async def _send_read_ahead(self, send: Send) -> None:
        """Sends each chunk while a worker thread reads the next ones, so packet
        extraction (C, without the GIL) and TLS overlap instead of taking turns.

        The reader never raises: it passes each result, error included, as an
        outcome, so a failure surfaces here in the order the chunks came.  The
        nursery's group is unwrapped so that callers see the error itself (a
        broken connection, a read error, a cancellation), as without read-ahead.
        Once the nursery has closed no thread is inside the chunk generator
        (``to_thread`` waits for it), so ``write_to`` may close it.
        """
        ready, results = trio.open_memory_channel[Outcome[bytes | None]](_READ_AHEAD)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_ahead, ready)
                async with results:
                    async for result in results:
                        chunk = result.unwrap()
                        if chunk is None:
                            break
                        await send(chunk)
        except BaseExceptionGroup as group:
            raise group.exceptions[0] from None

    async def _read_ahead(self, ready: trio.MemorySendChannel[Outcome[bytes | None]]) -> None:
        async with ready:
            while True:
                result = await trio.to_thread.run_sync(self._next_chunk)
                try:
                    await ready.send(result)
                except trio.BrokenResourceError:
                    return  # the sender stopped: its own error is the one to raise
                if not isinstance(result, Value) or result.value is None:
                    return

    def _next_chunk(self) -> Outcome[bytes | None]:
        """The next chunk, None at the end, or the error that ended the answer."""
        try:
            return Value(next(self._chunks, None))
        except Exception as exc:  # raised by the sender, in order
            return Error(exc)


class QueryActor:
    name = "query"

    def __init__(
        self,
        listeners: Sequence[trio.abc.Listener[trio.abc.Stream]],
        store: StoreActor,
        stats: Stats,
        open_files: OpenFiles,
        *,
        config_json: Callable[[], Mapping[str, Any]] | None = None,
        timeout: float = 900.0,
        max_concurrent: int = 4,
        queue_timeout: float = 30.0,
        heartbeat: Heartbeat | None = None,
        hang: Callable[[str], bool] | None = None,
    ) -> None:
        self._listeners = list(listeners)
        self._store = store
        self._stats = stats
        self._open = open_files
        self._maps = MappedFiles(open_files)
        self._config_json = config_json
        self.timeout = timeout
        self._slots = trio.Semaphore(max_concurrent)
        self._queue_timeout = queue_timeout
        self.active = 0
        self.heartbeat = heartbeat or Heartbeat(self.name)
        self._hang = hang

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(trio.serve_listeners, self._serve, self._listeners)
                nursery.start_soon(self.heartbeat.pulse)
                nursery.start_soon(self._let_go_of_deleted_files)
                task_status.started()
        finally:
            self._maps.close()

    async def _let_go_of_deleted_files(self) -> None:
        """Maps kept between queries must not keep what retention deleted."""
        while True:
            await trio.sleep(_MAP_SWEEP_SECONDS)
            self._maps.drop_deleted()

    async def _serve(self, stream: trio.abc.Stream) -> None:
        peer = _peer_of(stream)
        await serve_connection(stream, self.handle, peer=peer)

    async def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/query":
            return await self._query(request)
        if path == "/debug/stats":
            return Response.text(200, self._stats.debug_stats())
        if path == "/metrics":
            return Response(
                status=200, body=self._stats.metrics(), content_type=METRICS_CONTENT_TYPE
            )
        if path == "/debug/config":
            config = self._config_json() if self._config_json is not None else {}
            return Response(
                status=200,
                body=(json.dumps(config, indent=2) + "\n").encode(),
                content_type="application/json",
            )
        if match := _FILES_PATH.fullmatch(path):
            return self._files(int(match[1]))
        if path == "/debug/hang" and self._hang is not None and request.method == "POST":
            name = request.body.decode("utf-8", "replace").strip()
            if not self._hang(name):
                return Response.text(404, f"no such actor: {name}\n")
            log.critical("Test hook: making %s hang", name, extra={"STENO_HUNG": name})
            return Response.text(200, f"{name} hangs from its next heartbeat\n")
        return Response.text(404, f"no such endpoint: {path}\n")

    def _files(self, thread: int) -> Response:
        if thread >= len(self._store.dirs):
            return Response.text(404, f"no thread {thread}\n")
        dirs = self._store.dirs[thread]
        lines = [f'Thread {thread} (IDX: "{dirs.index}", PKT: "{dirs.packets}")']
        lines += [f"\t{f.name}" for f in self._store.snapshot.threads[thread]]
        return Response.text(200, "\n".join(lines) + "\n")

    async def _query(self, request: Request) -> Response:
        try:
            limit_packets = parse_limit(
                request.header("steno-limit-packets"), "Steno-Limit-Packets"
            )
            limit_bytes = parse_limit(request.header("steno-limit-bytes"), "Steno-Limit-Bytes")
        except BadLimit as exc:
            self._stats.queries.labels("bad_request").inc()
            return Response.text(400, f"Invalid Limit Headers: {exc}\n")
        try:
            text = request.body.decode("utf-8")
            node = parse(text, now=datetime.now(UTC))
            the_plan = plan(node)
        except UnicodeDecodeError:
            self._stats.queries.labels("bad_request").inc()
            return Response.text(400, "the query is not UTF-8 text\n")
        except QuerySyntaxError as exc:
            self._stats.queries.labels("bad_request").inc()
            log.info(
                "Bad query from %s: %s",
                request.peer,
                exc,
                extra={"STENO_QUERY": text, "STENO_REQUESTER": request.peer},
            )
            return Response.text(400, f"{exc}\n{exc.caret()}\n")
        except PlanError as exc:
            self._stats.queries.labels("bad_request").inc()
            return Response.text(400, f"{exc}\n")

        acquired = False
        with trio.move_on_after(self._queue_timeout):
            await self._slots.acquire()
            acquired = True
        if not acquired:
            self._stats.queries.labels("busy").inc()
            return Response.text(503, "too many queries in progress; try again later\n")
        self.active += 1
        run = QueryRun()
        options = QueryOptions(
            output=OutputFormat.PCAP,
            limit_packets=limit_packets,
            limit_bytes=limit_bytes,
            verify_index_crc=False,  # the store checked every index when it first saw it
        )
        chunks = run_query(the_plan, self._store.snapshot, options, run, self._open, self._maps)
        log.info(
            "Query from %s: %s",
            request.peer,
            text.strip(),
            extra={"STENO_QUERY": text.strip(), "STENO_REQUESTER": request.peer},
        )
        return Response(
            status=200,
            body=_QueryBody(self, chunks, run, text.strip(), request.peer),
            content_type="application/octet-stream",
        )

    def finished(self, run: QueryRun, text: str, peer: str, outcome: str, seconds: float) -> None:
        self.active -= 1
        self._slots.release()
        self._stats.queries.labels(outcome).inc()
        self._stats.query_seconds.observe(seconds)
        self._stats.query_packets.inc(run.packets)
        self._stats.query_bytes.inc(run.bytes_out)
        for problem in run.problems:
            log.warning("Query %r skipped %s", text, problem, extra={"STENO_QUERY": text})
        log.info(
            'Requester:"%s" Query:"%s" Outcome:%s Packets:%d Bytes:%d Time:%.3fs',
            peer,
            text,
            outcome,
            run.packets,
            run.bytes_out,
            seconds,
            extra={
                "STENO_QUERY": text,
                "STENO_REQUESTER": peer,
                "STENO_OUTCOME": outcome,
                "STENO_PACKETS": run.packets,
            },
        )


def _peer_of(stream: trio.abc.Stream) -> str:
    transport = getattr(stream, "transport_stream", stream)
    sock = getattr(transport, "socket", None)
    try:
        host, port = sock.getpeername()[:2] if sock is not None else ("?", 0)
    except OSError:
        return "?"
    return f"{host}:{port}"


def tls_listeners(
    sockets: Sequence[trio.SocketListener], context: Any
) -> list[trio.abc.Listener[trio.abc.Stream]]:
    """Wraps TCP listeners so every connection is mutual TLS (handshake on first I/O)."""
    return [trio.SSLListener(s, context, https_compatible=True) for s in sockets]
