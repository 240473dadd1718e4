"""The query actor over trio's in-memory streams (the HTTP and the query work
are real; only TLS and sockets are left out), on a store built on disk; the
last tests go through the TLS listeners the daemon uses, on 127.0.0.1."""

from __future__ import annotations

import contextlib
import io
import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import h11
import pytest
import trio
import trio.testing

from steno.actors.query import BadLimit, QueryActor, parse_limit, tls_listeners
from steno.actors.stats import Stats
from steno.client import tls_context
from steno.http.serve import serve_connection
from steno.lab.generator import generate
from steno.lab.pcap import iter_pcap
from steno.store.catalogue import Catalogue
from steno.store.naming import ThreadDirs
from steno.store.open_files import OpenFiles
from steno.tls import server_context
from tests.support.store import make_store


@attrs.define
class StaticStore:
    """What the query actor needs of the store actor: a snapshot and the dirs."""

    dirs: tuple[ThreadDirs, ...]
    snapshot: Catalogue


@pytest.fixture
def store(tmp_path: Path) -> StaticStore:
    traffic = generate(seed=61, count=20_000, profile="imix")
    dirs = make_store(tmp_path, list(traffic.frames()), files=4)
    return StaticStore(tuple(dirs), Catalogue.scan(dirs))


def actor(store: StaticStore, **kw: float) -> tuple[QueryActor, Stats]:
    stats = Stats()
    return QueryActor([], store, stats, OpenFiles(), **kw), stats  # type: ignore[arg-type]


def request(body: bytes, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    conn = h11.Connection(h11.CLIENT)
    head = [("host", "steno"), ("content-length", str(len(body))), *headers]
    return (
        conn.send(h11.Request(method="POST", target="/query", headers=head))
        + conn.send(h11.Data(data=body))
        + conn.send(h11.EndOfMessage())
    )


async def read_response(stream: trio.abc.Stream) -> tuple[int, bytes, bool]:
    """(status, body, complete): complete is False when the body was cut off."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(
        h11.Request(
            method="POST", target="/query", headers=[("host", "x"), ("content-length", "0")]
        )
    )
    conn.send(h11.EndOfMessage())
    status = 0
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return status, bytes(body), False
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return status, bytes(body), True
        elif isinstance(event, h11.ConnectionClosed):
            return status, bytes(body), False


def test_limit_headers_read_as_upstream_did() -> None:
    assert parse_limit("0x10", "x") == 16
    assert parse_limit("010", "x") == 8
    assert parse_limit("0b11", "x") == 3
    assert parse_limit(None, "x") == 0
    for bad in ("-5", "ten", "0x"):
        with pytest.raises(BadLimit, match="Limit"):
            parse_limit(bad, "Steno-Limit-Packets")


async def ask(
    qa: QueryActor, body: bytes, headers: tuple[tuple[str, str], ...] = ()
) -> tuple[int, bytes, bool]:
    """One query over an in-memory connection, its whole response read."""
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_connection, server, qa.handle)
        await client.send_all(request(body, headers))
        response = await read_response(client)
        await client.aclose()
    return response


async def test_a_query_streams_a_complete_pcap(store: StaticStore) -> None:
    qa, stats = actor(store)
    status, body, complete = await ask(qa, b"tcp", (("steno-limit-packets", "0x64"),))
    assert (status, complete) == (200, True)
    assert len(list(iter_pcap(io.BytesIO(body))[1])) == 100
    assert 'steno_queries_total{outcome="limited"} 1.0' in stats.metrics().decode()


async def test_a_bad_query_gets_the_parsers_message(store: StaticStore) -> None:
    qa, _ = actor(store)
    status, body, _ = await ask(qa, b"port 99999")
    assert status == 400
    assert b'invalid port "99999" at character 5' in body


async def test_a_client_that_leaves_cancels_its_query(store: StaticStore) -> None:
    qa, stats = actor(store)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_connection, server, qa.handle)
        await client.send_all(request(b"after 1h ago or before 1h ago"))
        await client.receive_some(1000)  # the answer has begun
        await client.aclose()
    assert qa.active == 0
    assert 'steno_queries_total{outcome="cancelled"} 1.0' in stats.metrics().decode()


async def test_a_timeout_after_the_answer_began_cuts_it_off(
    store: StaticStore, autojump_clock: trio.testing.MockClock
) -> None:
    qa, stats = actor(store, timeout=5.0)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_connection, server, qa.handle)
        await client.send_all(request(b"after 1h ago or before 1h ago"))
        first = await client.receive_some(1000)
        await trio.sleep(10)  # a client that stops reading; the query's time runs out
        rest = bytearray(first)
        while data := await client.receive_some(1 << 20):
            rest += data
        await client.aclose()
    assert not rest.endswith(b"0\r\n\r\n"), "an aborted answer must not look complete"
    assert 'steno_queries_total{outcome="timeout"} 1.0' in stats.metrics().decode()


async def test_queries_over_the_cap_wait_then_get_503(
    store: StaticStore, autojump_clock: trio.testing.MockClock
) -> None:
    # A query deadline far past the queue timeout: the autojump clock may jump
    # to the next deadline while a worker thread computes, and that must be
    # the queue timeout, not the first query's.
    qa, stats = actor(store, max_concurrent=1, queue_timeout=3.0, timeout=100_000.0)
    c1, s1 = trio.testing.memory_stream_pair()
    c2, s2 = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_connection, s1, qa.handle)
        nursery.start_soon(serve_connection, s2, qa.handle)
        await c1.send_all(request(b"after 1h ago or before 1h ago"))
        await c1.receive_some(100)  # holds the only slot; reads no more
        await c2.send_all(request(b"tcp"))
        status, body, _ = await read_response(c2)
        assert status == 503 and b"too many queries" in body
        await c1.aclose()
        await c2.aclose()
    assert 'steno_queries_total{outcome="busy"} 1.0' in stats.metrics().decode()


async def test_a_read_error_mid_answer_cuts_it_off_after_what_was_read(
    store: StaticStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunks before the failure reach the client in order, then the answer
    ends without its final chunk; the failing answer is closed and counted.
    (A disk error cannot be caused on demand here, so the engine's chunks are
    replaced by ones that fail after three.)"""
    closed = []

    def failing_answer(*_: object) -> Iterator[bytes]:
        try:
            for n in range(3):
                yield bytes([n]) * 300_000
            raise OSError(5, "Input/output error")
        finally:
            closed.append(True)

    monkeypatch.setattr("steno.actors.query.run_query", failing_answer)
    qa, stats = actor(store)
    status, body, complete = await ask(qa, b"tcp")
    assert (status, complete) == (200, False)
    assert body == b"".join(bytes([n]) * 300_000 for n in range(3))
    assert closed == [True]
    assert qa.active == 0
    assert 'steno_queries_total{outcome="error"} 1.0' in stats.metrics().decode()


@asynccontextmanager
async def over_tls(
    store: StaticStore, pki: Path
) -> AsyncIterator[tuple[QueryActor, Stats, trio.SSLStream[trio.SocketStream]]]:
    """A query actor on the daemon's TLS listeners, and a mutual-TLS client of it."""
    (tcp,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    stats = Stats()
    listeners = tls_listeners([tcp], server_context(pki))
    qa = QueryActor(listeners, store, stats, OpenFiles())  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(qa.run)
        raw = await trio.open_tcp_stream("127.0.0.1", tcp.socket.getsockname()[1])
        client = trio.SSLStream(raw, tls_context(pki), server_hostname="127.0.0.1")
        try:
            yield qa, stats, client
        finally:
            await trio.aclose_forcefully(client)
            nursery.cancel_scope.cancel()


async def test_over_tls_a_query_streams_a_complete_pcap_and_names_its_peer(
    store: StaticStore, pki: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "steno.query")
    async with over_tls(store, pki) as (_, stats, client):
        with trio.fail_after(60):
            await client.send_all(request(b"after 1h ago or before 1h ago"))
            status, body, complete = await read_response(client)
        host, port = client.transport_stream.socket.getsockname()[:2]
    assert (status, complete) == (200, True)
    assert len(body) > 4 << 20, "an answer of several chunks"
    assert len(list(iter_pcap(io.BytesIO(body))[1])) == 20_000
    assert f'Requester:"{host}:{port}" Query:"after 1h ago or before 1h ago" Outcome:ok' in (
        caplog.text
    )
    assert 'steno_queries_total{outcome="ok"} 1.0' in stats.metrics().decode()


async def test_over_tls_a_client_that_stops_reading_and_leaves_cancels_its_query(
    store: StaticStore, pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is endless, so its send waits on a full socket when the
    client half-closes: the disconnect watcher must see that all the same."""
    closed = []

    def endless_answer(*_: object) -> Iterator[bytes]:
        try:
            while True:
                yield bytes(1 << 20)
        finally:
            closed.append(True)

    monkeypatch.setattr("steno.actors.query.run_query", endless_answer)
    async with over_tls(store, pki) as (qa, stats, client):
        with trio.fail_after(30):
            await client.send_all(request(b"tcp"))
            await client.receive_some(1000)  # the answer has begun
            await client.transport_stream.send_eof()
            # What was sent before the query stopped, then the end: the
            # server closes the connection once the query has finished.
            with contextlib.suppress(trio.BrokenResourceError):
                while await client.receive_some(1 << 20):
                    pass
    assert qa.active == 0
    assert closed == [True]
    assert 'steno_queries_total{outcome="cancelled"} 1.0' in stats.metrics().decode()


class _Seen(logging.Handler):
    """Sets an event when a record containing ``text`` is logged (in trio's thread)."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.DEBUG)
        self.text = text
        self.event = trio.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if self.text in record.getMessage():
            self.event.set()


async def test_over_tls_a_client_without_a_certificate_is_refused_and_logged(
    store: StaticStore, pki: Path
) -> None:
    seen = _Seen("peer did not return a certificate")
    logger = logging.getLogger("steno.http")
    logger.addHandler(seen)
    logger.setLevel(logging.DEBUG)
    try:
        async with over_tls(store, pki) as (_, stats, client):
            port = client.transport_stream.socket.getpeername()[1]
            anonymous = ssl.create_default_context(cafile=pki / "ca_cert.pem")
            raw = await trio.open_tcp_stream("127.0.0.1", port)
            stranger = trio.SSLStream(raw, anonymous, server_hostname="127.0.0.1")
            with trio.fail_after(30):
                answer: bytes | bytearray = b""
                with contextlib.suppress(trio.BrokenResourceError):
                    await stranger.send_all(request(b"tcp"))
                    answer = await stranger.receive_some(1000)
                await seen.event.wait()
            await trio.aclose_forcefully(stranger)
    finally:
        logger.removeHandler(seen)
        logger.setLevel(logging.NOTSET)
    assert answer == b""
    assert any(m.startswith("Connection from 127.0.0.1:") for m in seen.messages)
    assert "steno_queries_total{" not in stats.metrics().decode()
