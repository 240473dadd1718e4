"""steno.client against a real mutual-TLS server: answers, errors, cut answers, wrong peers."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import pytest

from steno import client
from steno.certs import ensure_certificates, resolve_owners
from steno.client import ClientError, IncompleteAnswer, ServerError
from steno.config import ClientSettings
from tests.support.tls_server import ERROR_BODY, Mode, TLSServer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="certificates are made as root")

ROOT = resolve_owners("root", "root")


def settings_for(server: TLSServer, cert_path: Path) -> ClientSettings:
    return ClientSettings(server.host, server.port, cert_path)


def receive(answer: client.Answer) -> bytes:
    with answer:
        return b"".join(answer.chunks())


# -- pure parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("0", True),
        ("100", True),
        ("-1", True),
        ("+5", True),
        ("0x1F", True),
        ("0X_ff", True),
        ("0b101", True),
        ("0o17", True),
        ("017", True),
        ("1_000_000", True),
        ("", False),
        ("1e6", False),
        ("0x", False),
        ("08", False),
        ("12abc", False),
        ("1__0", False),
        ("_1", False),
        (" 5", False),
        ("5\n", False),
    ],
)
def test_is_limit_follows_go_parseint_base_0(text: str, ok: bool) -> None:
    assert client.is_limit(text) is ok


def test_url_brackets_ipv6() -> None:
    assert client.url(ClientSettings("127.0.0.1", 1234, Path("/c")), "/query") == (
        "https://127.0.0.1:1234/query"
    )
    assert client.url(ClientSettings("::1", 1234, Path("/c")), "/query") == (
        "https://[::1]:1234/query"
    )


def peercert(cn: str, *sans: tuple[str, str]) -> dict[str, object]:
    subject = ((("countryName", "XX"),), (("organizationName", "Stenographer"),))
    return {"subject": (*subject, (("commonName", cn),)), "subjectAltName": tuple(sans)}


@pytest.mark.parametrize(
    ("cert", "host", "error"),
    [
        (peercert("x", ("IP Address", "127.0.0.1")), "127.0.0.1", None),
        (peercert("x", ("DNS", "localhost"), ("IP Address", "0:0:0:0:0:0:0:1\n")), "::1", None),
        (peercert("127.0.0.1", ("IP Address", "10.0.0.1")), "127.0.0.1", "is for 10.0.0.1"),
        (peercert("127.0.0.1", ("DNS", "127.0.0.1")), "127.0.0.1", "is for 127.0.0.1, not"),
        # Upstream's certificates: no subjectAltName, the CN is the address (curl's rule).
        (peercert("127.0.0.1"), "127.0.0.1", None),
        (peercert("::1"), "0::1", None),
        (peercert("127.0.0.1_client"), "127.0.0.1", "is for 127.0.0.1_client, not"),
        (peercert("10.0.0.1"), "127.0.0.1", "is for 10.0.0.1, not 127.0.0.1"),
        (peercert("10.0.0.1", ("email", "a@b")), "10.0.0.1", None),
    ],
)
def test_check_server_name(cert: dict[str, object], host: str, error: str | None) -> None:
    if error is None:
        client.check_server_name(cert, host)
    else:
        with pytest.raises(ClientError, match=error):
            client.check_server_name(cert, host)


# -- against the test server -----------------------------------------------------------------


def test_query_streams_the_pcap_and_sends_what_upstream_sent(
    tls_server: TLSServer, pki: Path, pcap_bytes: bytes
) -> None:
    settings = settings_for(tls_server, pki)
    answer = client.query(settings, "host 198.18.0.7", limit_packets="10", limit_bytes="0x4000")
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert receive(answer) == pcap_bytes
    assert answer.received == len(pcap_bytes)
    (req,) = tls_server.requests
    assert (req.method, req.path, req.body) == ("POST", "/query", b"host 198.18.0.7")
    assert req.headers["steno-limit-packets"] == "10"
    assert req.headers["steno-limit-bytes"] == "0x4000"


def test_no_limit_headers_unless_asked(tls_server: TLSServer, pki: Path) -> None:
    receive(client.query(settings_for(tls_server, pki), "tcp"))
    (req,) = tls_server.requests
    assert not {"steno-limit-packets", "steno-limit-bytes"} & set(req.headers)


def test_server_error_carries_status_and_text(tls_server: TLSServer, pki: Path) -> None:
    tls_server.mode = Mode.ERROR
    with pytest.raises(ServerError) as info:
        client.query(settings_for(tls_server, pki), "bogus query")
    assert (info.value.status, info.value.body) == (400, ERROR_BODY.decode().strip())
    assert str(info.value) == "the server answered 400 Bad Request: could not parse query"


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        (Mode.ABORT, "the server ended it without its final chunk"),
        (Mode.RESET, "the connection"),
        (Mode.SHORT, "bytes of its announced length are missing"),
    ],
)
def test_an_answer_cut_short_is_incomplete(
    tls_server: TLSServer, pki: Path, pcap_bytes: bytes, mode: Mode, why: str
) -> None:
    tls_server.mode = mode
    answer = client.query(settings_for(tls_server, pki), "tcp")
    got = bytearray()

    def collect() -> None:
        for chunk in answer.chunks():
            got.extend(chunk)

    with answer, pytest.raises(IncompleteAnswer, match="the answer is incomplete: ") as info:
        collect()
    assert why in str(info.value)
    assert bytes(got) == pcap_bytes[: len(got)]
    assert len(got) <= len(pcap_bytes) // 2


def test_slow_answer_arrives_whole(tls_server: TLSServer, pki: Path, pcap_bytes: bytes) -> None:
    tls_server.mode = Mode.SLOW
    assert receive(client.query(settings_for(tls_server, pki), "tcp")) == pcap_bytes


def test_silence_longer_than_the_timeout(tls_server: TLSServer, pki: Path) -> None:
    tls_server.mode = Mode.STALL
    answer = client.query(settings_for(tls_server, pki), "tcp", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(IncompleteAnswer, match=r"the server sent nothing for 0\.5 s"):
        receive(answer)
    assert time.monotonic() - started < 5


def test_abort_from_another_thread_ends_a_blocked_read(tls_server: TLSServer, pki: Path) -> None:
    import threading

    tls_server.mode = Mode.STALL
    answer = client.query(settings_for(tls_server, pki), "tcp")
    threading.Timer(0.3, answer.abort).start()
    started = time.monotonic()
    with pytest.raises(IncompleteAnswer):
        receive(answer)
    assert time.monotonic() - started < 5


def test_connection_refused(pki: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ClientError, match="connection refused"):
        client.query(ClientSettings("127.0.0.1", port, pki), "tcp")


# -- the wrong peer, either side --------------------------------------------------------------


def other_pki(directory: Path, host: str = "127.0.0.1") -> Path:
    cert_path = directory / f"other-{host}"
    ensure_certificates(cert_path, host, owners=ROOT)
    return cert_path


def test_a_client_with_a_certificate_from_another_ca_is_refused(
    tls_server: TLSServer, pki: Path, tmp_path: Path
) -> None:
    """Trusts the right server, but presents a certificate the server's CA did not sign."""
    other = other_pki(tmp_path)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copyfile(pki / "ca_cert.pem", mixed / "ca_cert.pem")
    shutil.copyfile(other / "client_cert.pem", mixed / "client_cert.pem")
    shutil.copyfile(other / "client_key.pem", mixed / "client_key.pem")
    with pytest.raises(ClientError, match=r"refused? our client certificate"):
        client.query(settings_for(tls_server, mixed), "tcp")
    assert tls_server.requests == []
    assert tls_server.saw_handshake_error("CERTIFICATE_VERIFY_FAILED")


def test_a_server_signed_by_another_ca_is_refused(
    tls_server: TLSServer, pki: Path, tmp_path: Path
) -> None:
    other = other_pki(tmp_path)
    with pytest.raises(ClientError, match=r"not signed by our ca_cert\.pem"):
        client.query(settings_for(tls_server, other), "tcp")
    assert tls_server.requests == []


def test_a_server_certificate_for_another_address_is_refused(
    pki: Path, pcap_bytes: bytes, tmp_path: Path
) -> None:
    """Same CA, right chain, but issued for 10.9.8.7: the query must not be sent."""
    wrong = other_pki(tmp_path, host="10.9.8.7")
    with TLSServer(wrong, pcap=pcap_bytes) as server:
        with pytest.raises(
            ClientError, match=r"the server's certificate is for 10\.9\.8\.7, not 127\.0\.0\.1"
        ):
            client.query(settings_for(server, wrong), "tcp")
        assert server.requests == []


def test_an_expired_server_certificate_is_refused(pcap_bytes: bytes, tmp_path: Path) -> None:
    old = tmp_path / "old"
    ensure_certificates(old, "127.0.0.1", owners=ROOT, now=dt.datetime(1990, 1, 1, tzinfo=dt.UTC))
    with TLSServer(old, pcap=pcap_bytes) as server:
        with pytest.raises(
            ClientError, match="the server's certificate is not valid: certificate has expired"
        ):
            client.query(settings_for(server, old), "tcp")
        assert server.requests == []


def test_missing_key_says_run_stenokeys(tmp_path: Path) -> None:
    with pytest.raises(ClientError, match="has stenokeys been run"):
        client.query(ClientSettings("127.0.0.1", 1, tmp_path), "tcp")
