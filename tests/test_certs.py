"""steno.certs: upstream's layout and modes, real v3 certificates, checked by OpenSSL,
curl and a real mutual-TLS handshake; never overwriting anything."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from steno import certs
from steno.certs import CertError, Kind, Names, Owners, ensure_certificates, resolve_owners
from tests.support.tls_server import TLSServer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="stenokeys gives files away: root")

NOBODY = resolve_owners("nobody", "nogroup")


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def listing(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    """name → (inode, mode, content or link target): to show nothing changed."""
    out = {}
    for p in sorted(directory.iterdir()):
        st = p.lstat()
        body = os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
        out[p.name] = (st.st_ino, st.st_mode, body)
    return out


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of ensure_certificates for Host 127.0.0.1, owners nobody:nogroup."""
    cert_path = tmp_path_factory.mktemp("made") / "certs"
    ensure_certificates(cert_path, "127.0.0.1", owners=NOBODY)
    return cert_path


# -- pure parts ------------------------------------------------------------------------------


def test_names_are_upstreams() -> None:
    names = Names("127.0.0.1")
    assert names.key_file(Kind.CLIENT) == "client_127.0.0.1_client_key.pem"
    assert names.cert_file(Kind.CLIENT) == "client_127.0.0.1_client_cert.pem"
    assert names.key_file(Kind.SERVER) == "server_127.0.0.1_key.pem"
    assert names.cert_file(Kind.SERVER) == "server_127.0.0.1_cert.pem"
    assert (names.common_name(Kind.CLIENT), names.common_name(Kind.SERVER)) == (
        "127.0.0.1_client",
        "127.0.0.1",
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("10.1.2.3", ["10.1.2.3"]),
        ("2001:db8::7", ["2001:db8::7"]),
        ("127.0.0.1", ["127.0.0.1", "localhost", "::1"]),
        ("127.0.0.2", ["127.0.0.2", "localhost", "127.0.0.1", "::1"]),
        ("::1", ["::1", "localhost", "127.0.0.1"]),
        ("0.0.0.0", ["0.0.0.0", "localhost", "127.0.0.1", "::1"]),
        ("::", ["::", "localhost", "127.0.0.1", "::1"]),
    ],
)
def test_server_alt_names(host: str, expected: list[str]) -> None:
    got = [str(name.value) for name in certs.server_alt_names(host)]
    assert got == expected


# -- the files -------------------------------------------------------------------------------


def test_layout_owners_and_modes_as_upstream(made: Path) -> None:
    me_uid, me_gid = os.geteuid(), os.getegid()
    expected = {
        ".": (me_uid, me_gid, 0o755),
        "ca_key.pem": (me_uid, me_gid, 0o400),
        "ca_cert.pem": (me_uid, me_gid, 0o444),
        "client_127.0.0.1_client_key.pem": (me_uid, NOBODY.group_gid, 0o440),
        "client_127.0.0.1_client_cert.pem": (me_uid, me_gid, 0o444),
        "server_127.0.0.1_key.pem": (NOBODY.user_uid, me_gid, 0o400),
        "server_127.0.0.1_cert.pem": (me_uid, me_gid, 0o444),
    }
    for name, (uid, gid, mode) in expected.items():
        st = (made / name).lstat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (uid, gid, mode), name
    links = {
        "client_key.pem": "client_127.0.0.1_client_key.pem",
        "client_cert.pem": "client_127.0.0.1_client_cert.pem",
        "server_key.pem": "server_127.0.0.1_key.pem",
        "server_cert.pem": "server_127.0.0.1_cert.pem",
    }
    for link, target in links.items():
        assert os.readlink(made / link) == target
    assert sorted(p.name for p in made.iterdir()) == sorted([*expected, *links][1:])


def test_key_files_are_pkcs8_pem_and_rsa_4096(made: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    for name in ("ca_key.pem", "client_key.pem", "server_key.pem"):
        data = (made / name).read_bytes()
        assert data.startswith(b"-----BEGIN PRIVATE KEY-----\n")
        key = serialization.load_pem_private_key(data, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        assert key.key_size == 4096


def test_ca_certificate(made: Path) -> None:
    ca = load_cert(made / "ca_cert.pem")
    assert ca.version is x509.Version.v3
    assert ca.subject.rfc4514_string() == "CN=*.steno,O=Stenographer,C=XX"
    assert ca.issuer == ca.subject
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical
    assert (bc.value.ca, bc.value.path_length) == (True, 0)
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert (ku.value.key_cert_sign, ku.value.crl_sign, ku.value.digital_signature) == (
        True,
        True,
        False,
    )
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    ca.verify_directly_issued_by(ca)


@pytest.mark.parametrize(
    ("link", "cn", "eku", "encipher"),
    [
        ("server_cert.pem", "127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH, True),
        ("client_cert.pem", "127.0.0.1_client", ExtendedKeyUsageOID.CLIENT_AUTH, False),
    ],
)
def test_leaf_certificates(
    made: Path, link: str, cn: str, eku: x509.ObjectIdentifier, encipher: bool
) -> None:
    ca = load_cert(made / "ca_cert.pem")
    cert = load_cert(made / link)
    assert cert.version is x509.Version.v3
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
    assert cert.subject.rfc4514_string() == f"CN={cn},O=Stenographer,C=XX"
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert (ku.value.digital_signature, ku.value.key_encipherment, ku.value.key_cert_sign) == (
        True,
        encipher,
        False,
    )
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [eku]
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    if link == "server_cert.pem":
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.IPAddress) == [
            ipaddress.ip_address("127.0.0.1"),
            ipaddress.ip_address("::1"),
        ]
        assert san.get_values_for_type(x509.DNSName) == ["localhost"]


def test_validity_serials_and_signatures(made: Path) -> None:
    found = [load_cert(made / n) for n in ("ca_cert.pem", "server_cert.pem", "client_cert.pem")]
    now = dt.datetime.now(dt.UTC)
    for cert in found:
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=9999)
        assert now - dt.timedelta(hours=2) < cert.not_valid_before_utc < now
        assert cert.serial_number > 1 << 64  # random, not upstream's counter
        assert cert.signature_hash_algorithm is not None
        assert cert.signature_hash_algorithm.name == "sha256"
    assert len({c.serial_number for c in found}) == 3


def openssl_verify(made: Path, purpose: str, cert: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-x509_strict", "-purpose", purpose, "-CAfile", "ca_cert.pem", cert],
        cwd=made,
        capture_output=True,
        text=True,
        check=False,
    )


def test_openssl_verifies_the_chain_strictly_and_for_the_right_purpose(made: Path) -> None:
    for purpose, cert in (("sslserver", "server_cert.pem"), ("sslclient", "client_cert.pem")):
        done = openssl_verify(made, purpose, cert)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip() == f"{cert}: OK"
    # The extended key usages are real: the client's certificate cannot serve.
    wrong = openssl_verify(made, "sslserver", "client_cert.pem")
    assert wrong.returncode != 0
    assert "unsuitable certificate purpose" in wrong.stdout + wrong.stderr


# -- real TLS ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_mutual_tls_handshake_with_strict_standard_checks(made: Path, name: str) -> None:
    """Python's own host-name check (no CN fallback) and X509_STRICT, both ways."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(made / "server_cert.pem", made / "server_key.pem")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(made / "ca_cert.pem")
    server_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    client_ctx = ssl.create_default_context(cafile=made / "ca_cert.pem")
    client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    client_ctx.load_cert_chain(made / "client_cert.pem", made / "client_key.pem")

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: dict[str, object] = {}

    def serve() -> None:
        raw, _ = listener.accept()
        with server_ctx.wrap_socket(raw, server_side=True) as conn:
            seen["client"] = conn.getpeercert()
            conn.sendall(conn.recv(100).upper())

    thread = threading.Thread(target=serve)
    thread.start()
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        client_ctx.wrap_socket(raw, server_hostname=name) as conn,
    ):
        conn.sendall(b"ping")
        assert conn.recv(100) == b"PING"
    thread.join(10)
    listener.close()
    client = seen["client"]
    assert isinstance(client, dict)
    assert ((("commonName", "127.0.0.1_client"),)) in client["subject"]


def test_server_refuses_a_client_without_certificate(made: Path) -> None:
    with TLSServer(made, pcap=b"") as server:
        ctx = ssl.create_default_context(cafile=made / "ca_cert.pem")
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            conn = ctx.wrap_socket(raw, server_hostname="127.0.0.1")

            def ask() -> bytes:
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                return conn.recv(100)

            # The alert (CERTIFICATE_REQUIRED) may be lost to the close that follows it.
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                ask()
            conn.close()
    assert server.requests == []
    assert server.saw_handshake_error("PEER_DID_NOT_RETURN_A_CERTIFICATE")


def curl(made: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--cacert",
            str(made / "ca_cert.pem"),
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_curl_accepts_the_server_and_presents_the_client(made: Path, name: str) -> None:
    with TLSServer(made, pcap=b"") as server:
        done = curl(
            made,
            f"https://{name}:{server.port}/debug/stats",
            "--cert",
            str(made / "client_cert.pem"),
            "--key",
            str(made / "client_key.pem"),
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "GET /debug/stats\n"
        # Without the client's certificate, the server refuses.
        refused = curl(made, f"https://{name}:{server.port}/debug/stats")
        assert refused.returncode != 0
        assert server.saw_handshake_error("PEER_DID_NOT_RETURN_A_CERTIFICATE")


def test_ipv6_host(tmp_path: Path) -> None:
    cert_path = tmp_path / "certs"
    ensure_certificates(cert_path, "::1", owners=NOBODY)
    assert (cert_path / "server_::1_cert.pem").exists()
    with TLSServer(cert_path, pcap=b"", host="::1") as server:
        done = curl(
            cert_path,
            f"https://[::1]:{server.port}/x",
            "--globoff",
            "--cert",
            str(cert_path / "client_cert.pem"),
            "--key",
            str(cert_path / "client_key.pem"),
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "GET /x\n"


# -- idempotence, never overwriting ---------------------------------------------------------


def test_second_run_keeps_everything_and_restores_modes(tmp_path: Path) -> None:
    cert_path = tmp_path / "certs"
    first = ensure_certificates(cert_path, "127.0.0.1", owners=NOBODY)
    assert first[0] == "made a new CA: ca_key.pem, ca_cert.pem"
    before = listing(cert_path)
    os.chmod(cert_path / "client_key.pem", 0o644)
    os.chown(cert_path / "server_key.pem", 0, 0)
    again = ensure_certificates(cert_path, "127.0.0.1", owners=NOBODY)
    assert again == [
        "keeping the CA: ca_cert.pem exists",
        "keeping the client certificate: client_cert.pem exists",
        "keeping the server certificate: server_cert.pem exists",
    ]
    assert listing(cert_path) == before
    assert (cert_path / "server_key.pem").stat().st_uid == NOBODY.user_uid


def copy_files(source: Path, dest: Path, names: list[str]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(source / name, dest / name)


def test_an_organisations_own_ca_and_pairs_are_kept(made: Path, tmp_path: Path) -> None:
    """Dropped in as plain files, without the CA key: kept, modes set, nothing added."""
    cert_path = tmp_path / "certs"
    names = [
        "ca_cert.pem",
        "client_cert.pem",
        "client_key.pem",
        "server_cert.pem",
        "server_key.pem",
    ]
    copy_files(made, cert_path, names)
    contents = {n: (cert_path / n).read_bytes() for n in names}
    report = ensure_certificates(cert_path, "127.0.0.1", owners=NOBODY)
    assert report[0] == "keeping the CA: ca_cert.pem exists"
    assert sorted(p.name for p in cert_path.iterdir()) == sorted(names)
    assert {n: (cert_path / n).read_bytes() for n in names} == contents
    assert stat.S_IMODE((cert_path / "client_key.pem").stat().st_mode) == 0o440
    assert (cert_path / "client_key.pem").stat().st_gid == NOBODY.group_gid


def test_a_missing_leaf_is_made_with_the_existing_ca(made: Path, tmp_path: Path) -> None:
    cert_path = tmp_path / "certs"
    copy_files(made, cert_path, ["ca_cert.pem", "ca_key.pem", "server_cert.pem", "server_key.pem"])
    ensure_certificates(cert_path, "127.0.0.1", owners=NOBODY)
    client = load_cert(cert_path / "client_cert.pem")
    client.verify_directly_issued_by(load_cert(made / "ca_cert.pem"))
    assert (cert_path / "server_cert.pem").read_bytes() == (made / "server_cert.pem").read_bytes()


def test_interrupted_run_is_finished_by_linking(made: Path, tmp_path: Path) -> None:
    cert_path = tmp_path / "certs"
    copy_files(
        made,
        cert_path,
        [
            "ca_cert.pem",
            "ca_key.pem",
            "client_127.0.0.1_client_cert.pem",
            "client_127.0.0.1_client_key.pem",
            "server_127.0.0.1_cert.pem",
            "server_127.0.0.1_key.pem",
        ],
    )
    os.symlink("server_127.0.0.1_key.pem", cert_path / "server_key.pem")
    report = ensure_certificates(cert_path, "127.0.0.1", owners=NOBODY)
    assert report[1:] == [
        "linking the client files left by an earlier run",
        "linking the server files left by an earlier run",
    ]
    assert os.readlink(cert_path / "client_cert.pem") == "client_127.0.0.1_client_cert.pem"
    assert os.readlink(cert_path / "server_cert.pem") == "server_127.0.0.1_cert.pem"


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        (
            ["ca_key.pem"],
            "{d}/ca_key.pem exists without ca_cert.pem (left by an interrupted run?); "
            "not overwriting a key: remove it and run again",
        ),
        (
            ["client_cert.pem", "client_key.pem"],
            "client_cert.pem in {d} without ca_cert.pem: add the CA certificate that signed "
            "them, or move them away (stenokeys never deletes certificates)",
        ),
        (
            ["ca_cert.pem", "server_cert.pem", "server_key.pem"],
            "cannot make client_cert.pem: {d}/ca_key.pem is missing (with a CA of your own, "
            "put client_cert.pem and client_key.pem in {d} yourself)",
        ),
        (
            ["ca_cert.pem", "ca_key.pem", "client_cert.pem"],
            "{d}/client_cert.pem exists but client_key.pem does not",
        ),
        (
            ["ca_cert.pem", "ca_key.pem", "server_key.pem"],
            "{d}/server_key.pem exists but server_cert.pem does not; not replacing a key "
            "(move it away, or add its certificate as server_cert.pem)",
        ),
        (
            ["ca_cert.pem", "ca_key.pem", "client_127.0.0.1_client_key.pem"],
            "{d}/client_127.0.0.1_client_key.pem exists without "
            "client_127.0.0.1_client_cert.pem (left by an interrupted run?); "
            "not overwriting it: remove it and run again",
        ),
    ],
)
def test_files_in_the_way_are_reported_and_nothing_changes(
    made: Path, tmp_path: Path, present: list[str], expected: str
) -> None:
    cert_path = tmp_path / "certs"
    copy_files(made, cert_path, present)
    before = listing(cert_path)
    with pytest.raises(CertError) as info:
        ensure_certificates(cert_path, "127.0.0.1", owners=NOBODY)
    assert str(info.value) == expected.format(d=cert_path)
    assert listing(cert_path) == before


def test_new_files_have_their_final_owner_and_mode_from_the_start(tmp_path: Path) -> None:
    """No moment where a key is readable by the wrong people, and no clobbering:
    the file appears (by link) already owned and moded, and an existing name wins."""
    certs._write_new(tmp_path, "k.pem", b"secret", (65534, 65534, 0o440))
    st = (tmp_path / "k.pem").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_nlink) == (65534, 65534, 0o440, 1)
    with pytest.raises(CertError, match="appeared meanwhile; not overwriting it"):
        certs._write_new(tmp_path, "k.pem", b"other", (0, 0, 0o400))
    assert (tmp_path / "k.pem").read_bytes() == b"secret"
    assert [p.name for p in tmp_path.iterdir()] == ["k.pem"], "no temporary file left"


def test_dangling_symlink_is_reported(tmp_path: Path) -> None:
    cert_path = tmp_path / "certs"
    cert_path.mkdir()
    os.symlink("gone.pem", cert_path / "ca_cert.pem")
    with pytest.raises(CertError, match=r"ca_cert.pem is a symlink to 'gone.pem', which does not"):
        ensure_certificates(cert_path, "127.0.0.1", owners=NOBODY)


def test_no_such_user_or_group() -> None:
    with pytest.raises(CertError, match="no such user: 'no-such-user'"):
        resolve_owners("no-such-user", "nogroup")
    with pytest.raises(CertError, match="no such group: 'no-such-group'"):
        resolve_owners("nobody", "no-such-group")
    assert resolve_owners("4321", "1234") == Owners(os.geteuid(), os.getegid(), 4321, 1234)


def test_cert_path_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(CertError, match=r"cannot create .*/file/certs: Not a directory"):
        ensure_certificates(tmp_path / "file" / "certs", "127.0.0.1", owners=NOBODY)


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="steno-certs-"))
    top.chmod(0o755)
    try:
        yield top
    finally:
        shutil.rmtree(top)


def test_cert_path_not_writable(world_readable_dir: Path) -> None:
    os.setegid(65534)
    os.seteuid(65534)
    try:
        with pytest.raises(CertError) as info:
            ensure_certificates(world_readable_dir, "127.0.0.1", owners=NOBODY)
    finally:
        os.seteuid(0)
        os.setegid(0)
    assert str(info.value) == f"cannot write in {world_readable_dir}: permission denied"


# -- upstream's own certificates -------------------------------------------------------------


@pytest.mark.upstream
def test_upstream_made_certificates_are_kept(tmp_path: Path) -> None:
    """Debian's stenokeys' output, then ours on top: nothing to do but modes."""
    cert_path = tmp_path / "certs"
    config = tmp_path / "config"
    config.write_text(f'{{"Host": "127.0.0.1", "Port": 1234, "CertPath": "{cert_path}"}}')
    done = subprocess.run(
        ["/usr/sbin/stenokeys", "nobody", "nogroup"],
        env={**os.environ, "STENOGRAPHER_CONFIG": str(config)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    before = {p.name: p.read_bytes() for p in cert_path.glob("*.pem")}
    report = ensure_certificates(cert_path, "127.0.0.1", owners=NOBODY)
    assert [line.split(":")[0] for line in report] == [
        "keeping the CA",
        "keeping the client certificate",
        "keeping the server certificate",
    ]
    assert {p.name: p.read_bytes() for p in cert_path.glob("*.pem")} == before
