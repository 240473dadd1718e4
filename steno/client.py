"""Talking to a Stenographer server as its clients do: mutual TLS, ``POST /query``.

Used by ``stenoread`` (and usable from Python).  Upstream's clients were
shell scripts around curl; what they did is kept, what hurt is fixed:

* **Where and who.**  ``Host``, ``Port`` and ``CertPath`` come from the config
  file (:func:`steno.config.client_settings`).  The client presents
  ``client_cert.pem``/``client_key.pem`` and trusts only ``ca_cert.pem``.
  Reading the key is the permission to query; when it is refused,
  :func:`key_access_report` says who you are and what the modes are, as
  upstream's ``stenocurl`` did.
* **Checking the server's name.**  OpenSSL verifies the chain; the name is
  checked here, right after the handshake and before the query is sent,
  with curl's rule: the ``Host`` address must be among the certificate's
  subjectAltName entries, or, when it has none, equal its CN.  Upstream's
  ``stenokeys`` made certificates without subjectAltName that curl accepted
  by CN; Python's own check never falls back to the CN for an IP address,
  so it would refuse every existing upstream installation.
* **Errors are errors.**  The status is read before any byte goes to the
  caller: anything but 200 raises :class:`ServerError` with the server's
  text (upstream piped "could not parse query" into tcpdump, issue #105).
* **An incomplete answer is said to be one.**  A server that cannot finish
  a response aborts it (no final chunk, or a reset), so a chunked body that
  ends early, a body shorter than its Content-Length, or a TLS connection
  cut without close_notify raises :class:`IncompleteAnswer`; ragged EOFs
  are not suppressed, for that reason.
* **Timeouts.**  Upstream's curl gave up after 890 s in all, cutting long
  exports short.  Here the limit is on silence: :data:`IDLE_TIMEOUT_SEC`
  without a byte (the server's own query timeout, 900 s by default, ends a
  query that long before).
"""

from __future__ import annotations

import contextlib
import grp
import http.client
import ipaddress
import os
import pwd
import re
import socket
import ssl
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

from steno import __version__
from steno.certs import CA_CERT, CLIENT_CERT, CLIENT_KEY
from steno.config import ClientSettings

#: Longest silence accepted from the server before giving up on an answer.
IDLE_TIMEOUT_SEC = 960.0
CHUNK_SIZE = 64 * 1024
USER_AGENT = f"steno/{__version__}"
LIMIT_PACKETS_HEADER = "Steno-Limit-Packets"
LIMIT_BYTES_HEADER = "Steno-Limit-Bytes"

__all__ = [
    "IDLE_TIMEOUT_SEC",
    "Answer",
    "ClientError",
    "IncompleteAnswer",
    "KeyAccessError",
    "ServerError",
    "check_key_readable",
    "check_server_name",
    "is_limit",
    "key_access_report",
    "query",
    "request",
    "tls_context",
    "url",
]

# What Go's strconv.ParseInt(s, 0, 64) accepts, which is how the server reads
# the limit headers: decimal, 0x hex, 0o or leading-0 octal, 0b binary, with _.
_GO_INT = re.compile(
    r"[+-]?(?:0[xX]_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*|0[bB]_?[01]+(?:_[01]+)*"
    r"|0[oO]?_?[0-7]+(?:_[0-7]+)*|[1-9][0-9]*(?:_[0-9]+)*|0)"
)


class ClientError(Exception):
    """The query could not be asked or answered; the message is for the user."""


class KeyAccessError(ClientError):
    """The client key cannot be read: the user is not allowed to query."""


class ServerError(ClientError):
    """The server answered, with something other than 200."""

    def __init__(self, status: int, reason: str, body: str) -> None:
        self.status = status
        self.reason = reason
        self.body = body
        text = f": {body}" if body else ""
        super().__init__(f"the server answered {status} {reason}{text}")


class IncompleteAnswer(ClientError):
    """The answer started but did not end properly; what arrived is all there is."""


def is_limit(text: str) -> bool:
    """Whether the server (Go's ParseInt with base 0) reads `text` as an integer."""
    return _GO_INT.fullmatch(text) is not None


def url(settings: ClientSettings, path: str) -> str:
    """``https://Host:Port/path``, with IPv6 addresses in brackets (upstream forgot them)."""
    host = settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{settings.port}{path}"


# -- the client's credentials ----------------------------------------------------------


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _ls(path: Path) -> tuple[str, os.stat_result | None]:
    """An ``ls -ld`` line for `path` (the link itself for a symlink)."""
    try:
        st = path.lstat()
    except OSError as exc:
        return f"  ?????????? {path} ({exc.strerror})", None
    line = f"  {stat.filemode(st.st_mode)} {_owner(st.st_uid)} {_group(st.st_gid)} {path}"
    if stat.S_ISLNK(st.st_mode):
        line += f" -> {os.readlink(path)}"
    return line, st


def key_access_report(key: Path) -> str:
    """Why `key` cannot be read: the modes on the way to it, and who is asking."""
    lines = ["You do not have permission to access Stenographer data:"]
    line, st = _ls(key)
    lines.append(line)
    target = key
    if st is not None and stat.S_ISLNK(st.st_mode):
        target = Path(os.path.realpath(key))
        line, st = _ls(target)
        lines.append(line)
    lines.extend(_ls(parent)[0] for parent in key.absolute().parents)
    groups = sorted({_group(g) for g in (os.getegid(), *os.getgroups())})
    me = _owner(os.geteuid())
    lines.append(f"Your permissions: user={me} groups={','.join(groups)}")
    if st is not None and st.st_mode & stat.S_IRGRP:
        readers = _group(st.st_gid)
        lines.append(
            f"Members of group {readers!r} may read {target.name}: ask an administrator to "
            f"add you (adduser {me} {readers}), then log in again."
        )
    return "\n".join(lines)


def check_key_readable(cert_path: Path) -> None:
    """Raises :class:`KeyAccessError` (with the report) unless the client key is readable."""
    key = cert_path / CLIENT_KEY
    try:
        with open(key, "rb"):
            pass
    except PermissionError:
        raise KeyAccessError(key_access_report(key)) from None
    except FileNotFoundError:
        raise ClientError(
            f"{key}: no such file: CertPath has no client key (has stenokeys been run?)"
        ) from None
    except OSError as exc:
        raise ClientError(f"{key}: {exc.strerror}") from None


def tls_context(cert_path: Path) -> ssl.SSLContext:
    """Mutual TLS as the server expects: our client pair, and only our CA trusted.

    Host names are checked by :func:`check_server_name` (see the module's
    docstring), so OpenSSL's own check is off; the chain check is on.
    """
    check_key_readable(cert_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(cafile=cert_path / CA_CERT)
    except (OSError, ssl.SSLError) as exc:
        raise ClientError(f"{cert_path / CA_CERT}: cannot use it as the CA: {exc}") from None
    try:
        context.load_cert_chain(cert_path / CLIENT_CERT, cert_path / CLIENT_KEY)
    except (OSError, ssl.SSLError) as exc:
        raise ClientError(
            f"{cert_path / CLIENT_CERT}, {cert_path / CLIENT_KEY}: "
            f"cannot use them as the client certificate: {exc}"
        ) from None
    return context


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def check_server_name(peercert: Mapping[str, object], host: str) -> None:
    """Raises :class:`ClientError` unless the certificate (``getpeercert()``) is for `host`.

    curl's rule, for an IP address: one of the subjectAltName IP entries, or,
    only when there are no DNS or IP entries at all, the subject's CN.
    """
    want = ipaddress.ip_address(host)
    sans = peercert.get("subjectAltName", ())
    assert isinstance(sans, tuple)
    ids = [(kind, value) for kind, value in sans if kind in ("DNS", "IP Address")]
    if ids:
        if any(kind == "IP Address" and _address(value) == want for kind, value in ids):
            return
        names = ", ".join(str(value).strip() for _, value in ids)
        raise ClientError(f"the server's certificate is for {names}, not {host}")
    subject = peercert.get("subject", ())
    assert isinstance(subject, tuple)
    cns = [value for rdn in subject for key, value in rdn if key == "commonName"]
    if any(_address(cn) == want for cn in cns):
        return
    raise ClientError(f"the server's certificate is for {', '.join(cns) or 'no name'}, not {host}")


# -- the connection ----------------------------------------------------------------------


class _MutualTLSConnection(http.client.HTTPConnection):
    """HTTP/1.1 over our TLS context, with the name check between handshake and request."""

    default_port = 443

    def __init__(self, host: str, port: int, *, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._context = context
        # http.client forgets self.sock once the response owns the stream
        # (Connection: close); aborting needs it still.
        self.tls_socket: ssl.SSLSocket | None = None

    def connect(self) -> None:
        super().connect()
        self.sock = self.tls_socket = self._context.wrap_socket(
            self.sock, server_hostname=self.host, suppress_ragged_eofs=False
        )
        check_server_name(self.sock.getpeercert() or {}, self.host)


_REFUSED_HINT = "did it refuse our client certificate?"
# OpenSSL's X509_V_ERR_* codes meaning "issued by a CA we do not trust".
_UNKNOWN_ISSUER = frozenset({2, 18, 19, 20, 21})


def _tls_problem(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLEOFError):
        # With TLS 1.3 the server checks our certificate after the client's
        # handshake is done; its alert can be lost to the close that follows.
        return f"the server cut the connection before answering ({_REFUSED_HINT})"
    reason = (exc.reason or str(exc)).upper()
    if "ALERT" in reason and ("CERTIFICATE" in reason or "UNKNOWN_CA" in reason):
        return f"the server refused our client certificate ({exc.reason})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code in _UNKNOWN_ISSUER:
            return f"the server's certificate is not signed by our {CA_CERT} ({exc.verify_message})"
        return f"the server's certificate is not valid: {exc.verify_message}"
    return f"TLS failed: {exc.reason or exc}"


class Answer:
    """A 200 answer being received: iterate :meth:`chunks`, then close (or use ``with``)."""

    def __init__(
        self, connection: _MutualTLSConnection, response: http.client.HTTPResponse
    ) -> None:
        self._connection = connection
        self._response = response
        self.received = 0
        self.headers = response.headers

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The body as it arrives; raises :class:`IncompleteAnswer` if it ends badly."""
        while True:
            try:
                data = self._response.read1(size)
            except http.client.IncompleteRead:
                raise self._incomplete("the server ended it without its final chunk") from None
            except TimeoutError:
                raise self._incomplete(
                    f"the server sent nothing for {self._connection.timeout:g} s"
                ) from None
            except ssl.SSLEOFError:
                raise self._incomplete("the connection was cut (no TLS close)") from None
            except (OSError, http.client.HTTPException) as exc:
                raise self._incomplete(f"the connection failed: {exc}") from None
            if not data:
                break
            self.received += len(data)
            yield data
        left = self._response.length
        if left:
            raise self._incomplete(f"{left} bytes of its announced length are missing")

    def _incomplete(self, why: str) -> IncompleteAnswer:
        return IncompleteAnswer(
            f"the answer is incomplete: {why}, after {self.received} bytes of the answer"
        )

    def abort(self) -> None:
        """Stops the transfer from another thread: a read blocked in :meth:`chunks` ends.

        The read then raises :class:`IncompleteAnswer`, which the caller that
        asked for the abort expects.  The plain socket's ``shutdown`` is used on
        purpose: ``SSLSocket.shutdown`` also drops the TLS object under the
        reading thread's feet.
        """
        sock = self._connection.tls_socket
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def close(self) -> None:
        self._response.close()
        self._connection.close()

    def __enter__(self) -> Answer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def request(
    settings: ClientSettings,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = IDLE_TIMEOUT_SEC,
) -> Answer:
    """Sends one request over mutual TLS; returns the 200 answer, unread.

    Raises :class:`KeyAccessError` (the key is not readable),
    :class:`ServerError` (not 200, with the server's text) or
    :class:`ClientError` (cannot connect, TLS refused, wrong server).
    """
    context = tls_context(settings.cert_path)
    connection = _MutualTLSConnection(
        settings.host, settings.port, context=context, timeout=timeout
    )
    where = url(settings, path)
    try:
        connection.request(
            method, path, body=body, headers={"User-Agent": USER_AGENT, **(headers or {})}
        )
        response = connection.getresponse()
    except ClientError:
        connection.close()
        raise
    except ssl.SSLError as exc:
        connection.close()
        raise ClientError(f"{where}: {_tls_problem(exc)}") from None
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        connection.close()
        raise ClientError(
            f"{where}: the server closed the connection without answering ({_REFUSED_HINT})"
        ) from None
    except TimeoutError:
        connection.close()
        raise ClientError(f"{where}: no answer within {timeout:g} s") from None
    except ConnectionRefusedError:
        connection.close()
        raise ClientError(f"{where}: connection refused (is stenographer running?)") from None
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ClientError(f"{where}: {detail}") from None
    if response.status != 200:
        try:
            text = response.read(CHUNK_SIZE).decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException):
            text = ""
        connection.close()
        raise ServerError(response.status, response.reason, text)
    return Answer(connection, response)


def query(
    settings: ClientSettings,
    text: str,
    *,
    limit_packets: str | None = None,
    limit_bytes: str | None = None,
    timeout: float = IDLE_TIMEOUT_SEC,
) -> Answer:
    """``POST /query`` with the query text; the answer's body is a pcap stream.

    Limits are passed as written (the server reads them as Go integers:
    ``0x100``, ``1_000`` are fine); see :func:`is_limit`.
    """
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    if limit_packets is not None:
        headers[LIMIT_PACKETS_HEADER] = limit_packets
    if limit_bytes is not None:
        headers[LIMIT_BYTES_HEADER] = limit_bytes
    return request(settings, "POST", "/query", body=text.encode(), headers=headers, timeout=timeout)
