"""The certificates under ``CertPath``: a private CA, a server pair and a client pair.

Stenographer's whole access model is here.  The server accepts any client
that presents a certificate signed by ``ca_cert.pem``; the only client
certificate is ``client_cert.pem``, and its key ``client_key.pem`` is readable
by one group (``stenographer``).  So "may query" means "is in that group", and
the file modes below are the authorization, not decoration.  Upstream's
``stenokeys.sh`` (Debian: ``stenokeys``) set this up with openssl; this module
does the same with ``cryptography`` and keeps its layout exactly, so that an
existing ``CertPath`` works with steno and steno's works with upstream's
clients (curl):

===============================  =====================  ======
file                             owner                  mode
===============================  =====================  ======
``CertPath/``                    caller (root)          0755
``ca_key.pem``                   caller                 0400
``ca_cert.pem``                  caller                 0444
``client_<Host>_client_key.pem`` caller : GROUP         0440
``client_<Host>_client_cert.pem`` caller                0444
``server_<Host>_key.pem``        USER : caller's group  0400
``server_<Host>_cert.pem``       caller                 0444
===============================  =====================  ======

plus the symlinks ``client_key.pem``, ``client_cert.pem``, ``server_key.pem``
and ``server_cert.pem`` to the named files, which is what the server and the
clients open.

Where steno differs, and why
----------------------------

* **Real X.509 v3 certificates.**  Upstream asked for key usages but
  ``openssl ca`` dropped them, so its leaves came out as v1 certificates
  with no extensions at all: no subjectAltName, so clients that ignore the
  CN (Go since 1.15, Python for IP addresses) reject the server.  Here the CA
  has basicConstraints CA:true pathlen 0 and keyUsage keyCertSign+cRLSign;
  the server certificate has subjectAltName (below), extendedKeyUsage
  serverAuth and keyUsage digitalSignature+keyEncipherment; the client
  certificate has extendedKeyUsage clientAuth and keyUsage digitalSignature;
  all carry subject and authority key identifiers, which strict verifiers
  (OpenSSL's ``-x509_strict``, Python 3.13's default) insist on.
* **subjectAltName.**  The server certificate names ``Host`` as an IP
  address, which is what every client connects to.  When ``Host`` is a
  loopback or the unspecified address (``0.0.0.0``, ``::``: listening on
  all interfaces, and then reachable locally), it also names ``localhost``,
  ``127.0.0.1`` and ``::1``, the names a local user or tool uses; upstream's
  certificate was refused for ``https://localhost:…``.  Other names (a
  host's DNS name, another address) need a certificate of your own.
* **Random 159-bit serial numbers**, not a counter kept in ``ca/serial``;
  there is no ``ca/`` directory (nothing here uses ``openssl ca``).
* **PEM only**: upstream's leaf files began with openssl's text dump.
* **Nothing is ever deleted or overwritten.**  Upstream deleted every
  ``*.pem`` when ``ca_cert.pem`` was missing (an upgrade path from 2015).
  steno refuses instead, naming the files in the way.  New files are
  written under a temporary name with their final owner and mode, then
  hard-linked into place, which fails if the name exists: no moment where a
  key is readable by the wrong people, no clobbering, and an interrupted
  run leaves either nothing or a complete file.  An organisation can drop
  in its own CA certificate and client and server pairs: they are kept,
  their modes set, and no CA key is needed.

Kept from upstream, deliberately
--------------------------------

* **RSA 4096.**  Every client curl or Go or OpenSSL 3 ever shipped accepts
  RSA, and upstream chose 4096; the certificates live for decades (next
  point), which is what the larger key is for.  Generating three keys takes
  about a second and a half, once, at install.
* **9,999 days of validity** (about 27 years), backdated one hour for clock
  skew between sensor and analyst.  Nothing renews these certificates and
  there is no revocation; a certificate that expires silently stops every
  query on a sensor nobody has touched in years.  Rotating is: delete
  ``CertPath/*``, run ``stenokeys`` again, restart the daemon.
* **Names**: subjects ``C=XX, O=Stenographer`` with CN ``*.steno`` (CA),
  ``<Host>`` (server) and ``<Host>_client`` (client).
"""

from __future__ import annotations

import datetime as dt
import enum
import grp
import ipaddress
import os
import pwd
import tempfile
from collections.abc import Callable
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca_cert.pem"
CA_KEY = "ca_key.pem"
CLIENT_CERT = "client_cert.pem"
CLIENT_KEY = "client_key.pem"
SERVER_CERT = "server_cert.pem"
SERVER_KEY = "server_key.pem"

KEY_BITS = 4096
VALIDITY = dt.timedelta(days=9999)
CLOCK_SKEW = dt.timedelta(hours=1)
CA_COMMON_NAME = "*.steno"

__all__ = [
    "CA_CERT",
    "CA_KEY",
    "CLIENT_CERT",
    "CLIENT_KEY",
    "SERVER_CERT",
    "SERVER_KEY",
    "CertError",
    "Kind",
    "Names",
    "Owners",
    "ca_certificate",
    "cert_pem",
    "ensure_certificates",
    "key_pem",
    "leaf_certificate",
    "new_private_key",
    "resolve_owners",
    "server_alt_names",
]


class CertError(Exception):
    """stenokeys cannot do its job; the message says which file or name is in the way."""


class Kind(enum.Enum):
    """The two leaf certificates: who presents them, and what they are named after."""

    CLIENT = "client"
    SERVER = "server"


@attrs.frozen
class Names:
    """Upstream's file names for a given ``Host``."""

    host: str

    def common_name(self, kind: Kind) -> str:
        return f"{self.host}_client" if kind is Kind.CLIENT else self.host

    def key_file(self, kind: Kind) -> str:
        return f"{kind.value}_{self.common_name(kind)}_key.pem"

    def cert_file(self, kind: Kind) -> str:
        return f"{kind.value}_{self.common_name(kind)}_cert.pem"

    @staticmethod
    def key_link(kind: Kind) -> str:
        return CLIENT_KEY if kind is Kind.CLIENT else SERVER_KEY

    @staticmethod
    def cert_link(kind: Kind) -> str:
        return CLIENT_CERT if kind is Kind.CLIENT else SERVER_CERT


# -- certificates (pure: keys and times in, certificates out) ----------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stenographer"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def server_alt_names(host: str) -> tuple[x509.GeneralName, ...]:
    """The server certificate's subjectAltName for `host` (an IP address)."""
    address = ipaddress.ip_address(host)
    names: list[x509.GeneralName] = [x509.IPAddress(address)]
    if address.is_loopback or address.is_unspecified:
        names.append(x509.DNSName("localhost"))
        for local in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")):
            if local != address:
                names.append(x509.IPAddress(local))
    return tuple(names)


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    # Ed25519/Ed448 sign without a separate hash; a dropped-in CA may use them.
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def _builder(
    subject: x509.Name, issuer: x509.Name, public: CertificatePublicKeyTypes, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now - CLOCK_SKEW + VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def _key_usage(
    *, signature: bool = False, encipher: bool = False, ca: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature,
        content_commitment=False,
        key_encipherment=encipher,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def ca_certificate(key: CertificateIssuerPrivateKeyTypes, *, now: dt.datetime) -> x509.Certificate:
    """A self-signed CA that may sign leaf certificates only (pathlen 0)."""
    public = key.public_key()
    return (
        _builder(_name(CA_COMMON_NAME), _name(CA_COMMON_NAME), public, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, _signature_hash(key))
    )


def leaf_certificate(
    kind: Kind,
    public: CertificatePublicKeyTypes,
    *,
    host: str,
    ca_key: CertificateIssuerPrivateKeyTypes,
    ca_cert: x509.Certificate,
    now: dt.datetime,
) -> x509.Certificate:
    """The client or server certificate for `host`, signed by the CA."""
    builder = (
        _builder(_name(Names(host).common_name(kind)), ca_cert.subject, public, now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if kind is Kind.SERVER:
        builder = (
            builder.add_extension(_key_usage(signature=True, encipher=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(server_alt_names(host)), critical=False)
        )
    else:
        builder = builder.add_extension(_key_usage(signature=True), critical=True).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(ca_key, _signature_hash(ca_key))


def key_pem(key: PrivateKeyTypes) -> bytes:
    """PKCS#8, unencrypted (the file mode protects it), as ``openssl genrsa`` 3 writes."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# -- who owns what ----------------------------------------------------------------------


@attrs.frozen
class Owners:
    """The ids stenokeys gives files to: the caller's, the daemon user's, the readers' group."""

    caller_uid: int
    caller_gid: int
    user_uid: int
    group_gid: int


def resolve_owners(user: str, group: str) -> Owners:
    """Looks `user` and `group` up (names, or numeric ids as chown takes them)."""
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        if not user.isdigit():
            raise CertError(f"no such user: {user!r}") from None
        uid = int(user)
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        if not group.isdigit():
            raise CertError(f"no such group: {group!r}") from None
        gid = int(group)
    return Owners(os.geteuid(), os.getegid(), uid, gid)


# -- the directory (I/O) ------------------------------------------------------------------


class _Action(enum.Enum):
    KEEP = "keep"  # the links exist: somebody's certificate, left alone
    LINK = "link"  # the named files exist (an interrupted run): only link them
    CREATE = "create"


@attrs.frozen
class _Plan:
    make_ca: bool
    leaves: tuple[tuple[Kind, _Action], ...]


def _present(path: Path, problems: list[str]) -> bool:
    """Whether `path` exists; a dangling symlink there is a problem, not an absence."""
    if path.exists():
        return True
    if path.is_symlink():
        problems.append(f"{path} is a symlink to {os.readlink(path)!r}, which does not exist")
    return False


def _plan_leaf(directory: Path, names: Names, kind: Kind, problems: list[str]) -> _Action:
    cert_link = directory / names.cert_link(kind)
    key_link = directory / names.key_link(kind)
    cert_file = directory / names.cert_file(kind)
    key_file = directory / names.key_file(kind)
    has_cert_link = _present(cert_link, problems)
    has_key_link = _present(key_link, problems)
    if has_cert_link:
        if not has_key_link:
            problems.append(f"{cert_link} exists but {key_link.name} does not")
        return _Action.KEEP
    if has_key_link and not _links_to(key_link, key_file.name):
        problems.append(
            f"{key_link} exists but {cert_link.name} does not; not replacing a key "
            "(move it away, or add its certificate as "
            f"{cert_link.name})"
        )
        return _Action.KEEP
    has_cert_file = _present(cert_file, problems)
    has_key_file = _present(key_file, problems)
    if has_cert_file and has_key_file:
        return _Action.LINK
    if has_cert_file or has_key_file:
        there, missing = (cert_file, key_file) if has_cert_file else (key_file, cert_file)
        problems.append(
            f"{there} exists without {missing.name} (left by an interrupted run?); "
            "not overwriting it: remove it and run again"
        )
        return _Action.KEEP
    return _Action.CREATE


def _links_to(link: Path, target: str) -> bool:
    return link.is_symlink() and os.readlink(link) == target


def _plan(directory: Path, names: Names) -> _Plan:
    problems: list[str] = []
    leaves = tuple((kind, _plan_leaf(directory, names, kind, problems)) for kind in Kind)
    has_ca_cert = _present(directory / CA_CERT, problems)
    has_ca_key = _present(directory / CA_KEY, problems)
    make_ca = False
    if not has_ca_cert:
        kept = [names.cert_link(k) for k, a in leaves if a is not _Action.CREATE]
        if has_ca_key:
            problems.append(
                f"{directory / CA_KEY} exists without {CA_CERT} (left by an interrupted run?); "
                "not overwriting a key: remove it and run again"
            )
        elif kept:
            problems.append(
                f"{' and '.join(kept)} in {directory} without {CA_CERT}: add the CA "
                "certificate that signed them, or move them away (stenokeys never deletes "
                "certificates)"
            )
        else:
            make_ca = True
    elif not has_ca_key:
        for kind, action in leaves:
            if action is _Action.CREATE:
                problems.append(
                    f"cannot make {names.cert_link(kind)}: {directory / CA_KEY} is missing "
                    f"(with a CA of your own, put {names.cert_link(kind)} and "
                    f"{names.key_link(kind)} in {directory} yourself)"
                )
    if problems:
        raise CertError("\n".join(problems))
    return _Plan(make_ca=make_ca, leaves=leaves)


def _write_new(directory: Path, name: str, data: bytes, owner_mode: tuple[int, int, int]) -> None:
    """Creates `name` with its final owner and mode (from the start), never replacing anything."""
    uid, gid, mode = owner_mode
    try:
        fd, tmp = tempfile.mkstemp(prefix=".stenokeys-", dir=directory)
    except OSError as exc:
        raise CertError(f"cannot write in {directory}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            _own(lambda: os.fchown(f.fileno(), uid, gid), directory / name, uid, gid)
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        try:
            os.link(tmp, directory / name)
        except FileExistsError:
            raise CertError(f"{directory / name} appeared meanwhile; not overwriting it") from None
    finally:
        os.unlink(tmp)


def _symlink(directory: Path, link: str, target: str) -> None:
    path = directory / link
    if _links_to(path, target):
        return
    try:
        os.symlink(target, path)
    except FileExistsError:
        raise CertError(f"{path} appeared meanwhile; not overwriting it") from None


def _own(chown: Callable[[], None], path: Path, uid: int, gid: int) -> None:
    try:
        chown()
    except PermissionError:
        raise CertError(
            f"cannot give {path} to uid {uid}, gid {gid}: permission denied (run stenokeys as root)"
        ) from None


def _set_mode(path: Path, uid: int, gid: int, mode: int) -> None:
    _own(lambda: os.chown(path, uid, gid), path, uid, gid)
    os.chmod(path, mode)


def _load_ca(directory: Path) -> tuple[CertificateIssuerPrivateKeyTypes, x509.Certificate]:
    key_path, cert_path = directory / CA_KEY, directory / CA_CERT
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CertError(f"{key_path}: cannot use this key: {exc}") from None
    try:
        cert = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    except ValueError as exc:
        raise CertError(f"{cert_path}: not a PEM certificate: {exc}") from None
    if not isinstance(
        key,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | dsa.DSAPrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        raise CertError(f"{key_path}: a {type(key).__name__} cannot sign certificates")
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise CertError(f"{key_path} is not the key of {cert_path}")
    return key, cert


def _public_der(public: PublicKeyTypes) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _check_pair(directory: Path, names: Names, kind: Kind) -> None:
    """An interrupted run left both named files: link them only if they belong together."""
    key_path = directory / names.key_file(kind)
    cert_path = directory / names.cert_file(kind)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    except (ValueError, TypeError) as exc:
        raise CertError(f"{cert_path}, {key_path}: unreadable: {exc}") from None
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise CertError(f"{key_path} is not the key of {cert_path}; remove both and run again")


def ensure_certificates(
    cert_path: Path,
    host: str,
    *,
    owners: Owners,
    now: dt.datetime | None = None,
) -> list[str]:
    """Makes whatever of upstream's layout is missing in `cert_path`, then sets modes.

    Existing certificates and keys are kept as they are (their owners and modes
    are set as in the table above); nothing is deleted or overwritten.  Safe to
    run again.  Returns one line per thing done or kept, for the operator.
    Raises :class:`CertError` when a file is in the way or cannot be written.
    """
    now = now or dt.datetime.now(dt.UTC)
    names = Names(host)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise CertError(f"Host must be an IP address: {host!r}") from None
    try:
        cert_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CertError(f"cannot create {cert_path}: {exc.strerror}") from None
    if not cert_path.is_dir():
        raise CertError(f"{cert_path} is not a directory")
    if not os.access(cert_path, os.W_OK | os.X_OK, effective_ids=True):
        raise CertError(f"cannot write in {cert_path}: permission denied")
    plan = _plan(cert_path, names)
    report: list[str] = []
    modes = _modes(owners)

    if plan.make_ca:
        ca_key = new_private_key()
        ca_cert = ca_certificate(ca_key, now=now)
        _write_new(cert_path, CA_KEY, key_pem(ca_key), modes[CA_KEY])
        _write_new(cert_path, CA_CERT, cert_pem(ca_cert), modes[CA_CERT])
        report.append(f"made a new CA: {CA_KEY}, {CA_CERT}")
    else:
        report.append(f"keeping the CA: {CA_CERT} exists")

    signer: tuple[CertificateIssuerPrivateKeyTypes, x509.Certificate] | None = None
    for kind, action in plan.leaves:
        key_name, cert_name = names.key_file(kind), names.cert_file(kind)
        if action is _Action.KEEP:
            report.append(f"keeping the {kind.value} certificate: {names.cert_link(kind)} exists")
            continue
        if action is _Action.CREATE:
            signer = signer or _load_ca(cert_path)
            key = new_private_key()
            cert = leaf_certificate(
                kind, key.public_key(), host=host, ca_key=signer[0], ca_cert=signer[1], now=now
            )
            _write_new(cert_path, key_name, key_pem(key), modes[names.key_link(kind)])
            _write_new(cert_path, cert_name, cert_pem(cert), modes[names.cert_link(kind)])
            report.append(
                f"made the {kind.value} key and certificate (CN {names.common_name(kind)}): "
                f"{key_name}, {cert_name}"
            )
        else:
            _check_pair(cert_path, names, kind)
            report.append(f"linking the {kind.value} files left by an earlier run")
        _symlink(cert_path, names.key_link(kind), key_name)
        _symlink(cert_path, names.cert_link(kind), cert_name)

    _apply_modes(cert_path, modes)
    _fsync_dir(cert_path)
    return report


_Mode = tuple[int, int, int]  # uid, gid, permission bits
_CERT = "*_cert.pem"


def _modes(owners: Owners) -> dict[str, _Mode]:
    """Who owns what, by the names the server and clients open (upstream's final pass).

    ``*_cert.pem`` stands for every certificate; ``.`` for CertPath itself.
    """
    me_uid, me_gid = owners.caller_uid, owners.caller_gid
    return {
        ".": (me_uid, me_gid, 0o755),
        CA_KEY: (me_uid, me_gid, 0o400),
        CLIENT_KEY: (me_uid, owners.group_gid, 0o440),
        SERVER_KEY: (owners.user_uid, me_gid, 0o400),
        CA_CERT: (me_uid, me_gid, 0o444),
        CLIENT_CERT: (me_uid, me_gid, 0o444),
        SERVER_CERT: (me_uid, me_gid, 0o444),
        _CERT: (me_uid, me_gid, 0o444),
    }


def _apply_modes(directory: Path, modes: dict[str, _Mode]) -> None:
    """Sets owners and modes on what exists (symlinks followed), as upstream did each run."""
    _set_mode(directory, *modes["."])
    for name in (CA_KEY, CLIENT_KEY, SERVER_KEY):
        if (directory / name).exists():
            _set_mode(directory / name, *modes[name])
    for cert in sorted(directory.glob(_CERT)):
        if cert.exists():
            _set_mode(cert, *modes[_CERT])


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
