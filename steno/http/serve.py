"""Serving HTTP/1.1 on a trio stream with h11: the I/O half of ``steno.http``.

One connection: read a request (headers and body, both bounded), hand it to
the handler, write the response; keep the connection for the next request
when both sides allow.  While a response streams, a task watches the
connection: when the client goes away, the handler's work is cancelled at
once (upstream's server only noticed at its next failed write).

Errors: a malformed request gets a 400 and the connection closes; a body
over the limit, a 413.  A streaming body that raises makes the connection
drop without the final chunk.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Awaitable, Callable

import h11
import trio

from steno.http.messages import Request, Response

log = logging.getLogger("steno.http")

Handler = Callable[[Request], Awaitable[Response]]

MAX_HEADERS = 16 * 1024
MAX_BODY = 64 * 1024
READ_SIZE = 64 * 1024
IDLE_TIMEOUT = 60.0


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


async def _next_event(
    conn: h11.Connection, stream: trio.abc.Stream
) -> h11.Event | type[h11.PAUSED]:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event  # type: ignore[return-value]
        data = await stream.receive_some(READ_SIZE)
        conn.receive_data(bytes(data))  # b"" marks the end of input


async def _read_request(
    conn: h11.Connection, stream: trio.abc.Stream, peer: str
) -> Request | Response | None:
    """The next request; a Response to send at once for a bad one; None at the end."""
    event = await _next_event(conn, stream)
    if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
        return None
    if not isinstance(event, h11.Request):
        return None
    headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers)
    body = bytearray()
    while True:
        part = await _next_event(conn, stream)
        if isinstance(part, h11.Data):
            body += part.data
            if len(body) > MAX_BODY:
                return Response.text(413, f"request body over {MAX_BODY} bytes\n")
        elif isinstance(part, h11.EndOfMessage):
            break
        else:
            return None
    return Request(
        method=event.method.decode("ascii", "replace"),
        target=event.target.decode("ascii", "replace"),
        headers=headers,
        body=bytes(body),
        peer=peer,
    )


async def _watch_for_disconnect(stream: trio.abc.Stream, cancel: trio.CancelScope) -> None:
    """Cancels `cancel` when the client closes its side (or sends more than it should)."""
    try:
        while True:
            data = await stream.receive_some(READ_SIZE)
            if not data:
                break
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    cancel.cancel()


async def _send_response(conn: h11.Connection, stream: trio.abc.Stream, response: Response) -> bool:
    """Writes a response; returns False if the connection must be dropped."""
    headers = [("content-type", response.content_type), ("server", "steno"), *response.headers]
    if isinstance(response.body, bytes):
        headers.append(("content-length", str(len(response.body))))
        await stream.send_all(
            conn.send(
                h11.Response(
                    status_code=response.status, headers=headers, reason=_reason(response.status)
                )
            )
        )
        if response.body:
            await stream.send_all(conn.send(h11.Data(data=response.body)))
        await stream.send_all(conn.send(h11.EndOfMessage()))
        return True
    await stream.send_all(
        conn.send(
            h11.Response(
                status_code=response.status, headers=headers, reason=_reason(response.status)
            )
        )
    )
    body = response.body

    async def send(chunk: bytes) -> None:
        # Passthrough: h11 frames the chunk without copying a megabyte into
        # one joined buffer; the framing goes as its own small writes.
        if chunk:
            for piece in conn.send_with_data_passthrough(h11.Data(data=chunk)) or ():
                await stream.send_all(piece)

    completed = False
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_watch_for_disconnect, stream, nursery.cancel_scope)
        try:
            await body.write_to(send)
            await stream.send_all(conn.send(h11.EndOfMessage()))
            completed = True
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away
        except Exception as exc:
            log.warning("aborting a response: %s", exc)
        nursery.cancel_scope.cancel()
    return completed


async def serve_connection(stream: trio.abc.Stream, handler: Handler, *, peer: str = "") -> None:
    """Serves requests on one connection until either side closes it."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADERS)
    try:
        while True:
            got: Request | Response | None = None
            with trio.move_on_after(IDLE_TIMEOUT):
                try:
                    got = await _read_request(conn, stream, peer)
                except h11.RemoteProtocolError as exc:
                    got = Response.text(exc.error_status_hint, f"bad request: {exc}\n")
            if got is None:
                return
            if isinstance(got, Response):
                if conn.our_state is h11.SEND_RESPONSE:
                    await _send_response(conn, stream, got)
                return
            response = await handler(got)
            if not await _send_response(conn, stream, response):
                return
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
            else:
                return
    except (trio.BrokenResourceError, trio.ClosedResourceError, h11.LocalProtocolError) as exc:
        # A failed TLS handshake (no client certificate, say) ends here too.
        log.debug("Connection from %s ended: %s", peer or "?", exc.__cause__ or exc)
        return
    finally:
        with trio.move_on_after(1) as cleanup:
            cleanup.shield = True
            await stream.aclose()
