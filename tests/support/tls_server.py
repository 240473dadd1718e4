"""A small, real HTTPS server with mutual TLS, standing in for the daemon's query port.

It speaks what upstream's Go server spoke to ``stenoread`` and curl: HTTP/1.1,
a chunked ``application/octet-stream`` pcap for ``POST /query``, a plain-text
400 for a refused query.  It is threads and the stdlib ``ssl`` module, written
byte by byte so that tests can make it misbehave exactly: cut a chunked
answer short, reset the connection, trickle, stall.  It records every request
and every failed handshake for the tests to look at.
"""

from __future__ import annotations

import contextlib
import enum
import io
import ipaddress
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import attrs

from steno.lab import frames
from steno.lab.pcap import PcapWriter


class Mode(enum.Enum):
    PCAP = "pcap"  # 200, the whole pcap, chunked, properly ended
    ERROR = "error"  # 400 "could not parse query", as upstream's server
    ABORT = "abort"  # 200, half the pcap, then a clean TLS close without the last chunk
    RESET = "reset"  # 200, half the pcap, then a TCP reset
    SHORT = "short"  # 200 with a Content-Length, half of it sent, then a clean close
    SLOW = "slow"  # 200, the whole pcap in small pieces, with pauses
    STALL = "stall"  # 200, one chunk, then silence until the server stops


ERROR_BODY = b"could not parse query\n"


@attrs.define
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def sample_pcap(packets: int = 300) -> bytes:
    """A pcap of UDP packets of varied sizes: big enough to fill a pipe (~250 KiB)."""
    out = io.BytesIO()
    writer = PcapWriter(out)
    src = ipaddress.IPv4Address("198.18.0.7")
    dst = ipaddress.IPv4Address("198.18.0.9")
    for i in range(packets):
        payload = bytes([i % 251]) * (100 + (i * 37) % 1300)
        datagram = frames.udp(src, dst, 40000 + i, 53, payload)
        packet = frames.ipv4(src, dst, 17, datagram, ident=i)
        frame = frames.ethernet(
            frames.mac("02:00:00:00:00:09"), frames.mac("02:00:00:00:00:07"), 0x0800, packet
        )
        writer.write(1_700_000_000_000_000_000 + i * 1_000_000, frame)
    return out.getvalue()


class TLSServer:
    """Serves on `host`, an ephemeral port, with the server pair and CA in `cert_path`."""

    def __init__(self, cert_path: Path, *, pcap: bytes, host: str = "127.0.0.1") -> None:
        self.pcap = pcap
        self.mode = Mode.PCAP
        self.requests: list[Request] = []
        self.handshake_errors: list[str] = []
        self.send_errors: list[str] = []
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert_path / "server_cert.pem", cert_path / "server_key.pem")
        self._context.verify_mode = ssl.CERT_REQUIRED
        self._context.load_verify_locations(cert_path / "ca_cert.pem")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __enter__(self) -> TLSServer:
        thread = threading.Thread(target=self._accept_loop, name="tls-server", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=10)
        self._listener.close()

    def saw_handshake_error(self, text: str = "", timeout: float = 5.0) -> bool:
        """Whether a handshake failed (mentioning `text`): the server's thread records
        it a moment after the client has seen the alert, so this waits a little."""
        return _eventually(lambda: any(text in e for e in self.handshake_errors), timeout)

    def saw_send_error(self, timeout: float = 5.0) -> bool:
        """Whether sending an answer failed (the client went away early)."""
        return _eventually(lambda: bool(self.send_errors), timeout)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        try:
            conn = self._context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            with self._lock:
                self.handshake_errors.append(str(exc))
            raw.close()
            return
        try:
            request = self._read_request(conn)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            if request.path == "/query":
                self._answer_query(conn)
            else:
                body = f"{request.method} {request.path}\n".encode()
                conn.sendall(_head(200, "OK", "text/plain", length=len(body)) + body)
                _close_cleanly(conn)
        except (OSError, ssl.SSLError) as exc:
            with self._lock:
                self.send_errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    @staticmethod
    def _read_request(conn: ssl.SSLSocket) -> Request | None:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return None
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            piece = conn.recv(65536)
            if not piece:
                break
            body += piece
        return Request(method, path, headers, body)

    def _answer_query(self, conn: ssl.SSLSocket) -> None:
        mode, pcap = self.mode, self.pcap
        half = pcap[: len(pcap) // 2]
        if mode is Mode.ERROR:
            conn.sendall(
                _head(400, "Bad Request", "text/plain; charset=utf-8", length=len(ERROR_BODY))
                + ERROR_BODY
            )
            _close_cleanly(conn)
        elif mode is Mode.SHORT:
            conn.sendall(_head(200, "OK", "application/octet-stream", length=len(pcap)) + half)
            _close_cleanly(conn)
        else:
            conn.sendall(_head(200, "OK", "application/octet-stream", chunked=True))
            if mode is Mode.PCAP:
                _send_chunks(conn, pcap, 8192)
                conn.sendall(b"0\r\n\r\n")
                _close_cleanly(conn)
            elif mode is Mode.SLOW:
                _send_chunks(conn, pcap, 4096, pause=0.003)
                conn.sendall(b"0\r\n\r\n")
                _close_cleanly(conn)
            elif mode is Mode.ABORT:
                _send_chunks(conn, half, 8192)
                _close_cleanly(conn)
            elif mode is Mode.RESET:
                _send_chunks(conn, half, 8192)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif mode is Mode.STALL:
                _send_chunks(conn, pcap[:1000], 1000)
                self._stop.wait(30)


def _eventually(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _head(
    status: int, reason: str, content_type: str, *, length: int | None = None, chunked: bool = False
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _send_chunks(conn: ssl.SSLSocket, data: bytes, size: int, *, pause: float = 0.0) -> None:
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        if pause:
            time.sleep(pause)


def _close_cleanly(conn: ssl.SSLSocket) -> None:
    """TLS close_notify, so that the end is a real end (not a cut connection)."""
    with contextlib.suppress(OSError, ssl.SSLError):
        conn.unwrap()
