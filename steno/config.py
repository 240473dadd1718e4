"""The configuration file: upstream Stenographer's JSON, checked, as frozen attrs.

One file, three kinds of reader:

* the daemon: :func:`load` (or :meth:`Config.from_json` on JSON already parsed)
  validates everything and returns a :class:`Config`; :func:`check_directories`
  then looks at the disk, separately, because that is I/O and depends on who
  runs it;
* the clients and ``stenokeys``: :func:`client_settings` reads only ``Host``,
  ``Port`` and ``CertPath``.  An analyst's copy of the file may name data
  directories that do not exist on the analyst's machine, or carry keys of a
  newer steno; neither should stop ``stenoread``;
* ``/debug/config``: :meth:`Config.to_json` gives back the effective
  configuration under upstream's Go field names.

Theory of the checks
--------------------

Upstream decoded the file with Go's ``encoding/json`` into a struct, so the
behaviours an existing file may rely on are Go's, and they are kept: keys match
case-insensitively (an exact match wins), ``null`` is the same as an absent
key, integers must be written as integers (``10.0`` is refused, as Go refuses
it), and ``DiskFreePercentage``, ``MaxDirectoryFiles`` and ``MaxOpenFiles``
take their defaults when ``<= 0`` (now with a warning, since a 0 there is
usually a mistake that upstream hid).

Where Go's decoder silently did something an operator would not want, steno
refuses, because a configuration mistake on a capture sensor is found only on
the day the packets are needed:

* an **unknown key** is an error that names it and suggests the closest known
  key.  Upstream ignored unknown keys, so ``"DiskFreePercentag": 5`` kept the
  default 10 and ``"MaxAgeHour": 24`` would keep data forever.  Keys starting
  with ``_``, ``#`` or ``//`` are comments (JSON has none; these are the usual
  stand-ins) and are ignored, so a file can still carry notes or a disabled key;
* a key given **twice** in one object (also as ``Port`` and ``port``) is an
  error; Go kept the last silently;
* **text after** the top-level object is an error; Go read only the first value;
* ``DiskFreePercentage`` of 100 or more is refused: upstream would delete every
  file, forever;
* two threads (or one thread's packets and index) sharing a directory are
  refused: packet and index files have the same names, so they would collide;
* ``TestimonySocket`` (capture from a Testimony daemon) is refused when set:
  steno captures only from an interface.  ``Rpc`` (upstream's optional gRPC
  server) is accepted and ignored with a warning: a file that configures it
  still works, the operator learns that gRPC is not served.

Every problem is one line ``<source>: <key path>: <problem>: <value as JSON>``;
:class:`ConfigError` carries all the problems found, not just the first, so one
edit fixes a file.
"""

from __future__ import annotations

import difflib
import grp
import ipaddress
import json
import os
import pwd
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import attrs

DEFAULT_CONFIG_PATH = Path("/etc/stenographer/config")
CONFIG_ENV = "STENOGRAPHER_CONFIG"

DEFAULT_DISK_FREE_PERCENTAGE = 10
DEFAULT_MAX_DIRECTORY_FILES = 30_000
DEFAULT_MAX_OPEN_FILES = 100_000
#: Upstream's fixed query deadline was 15 minutes (``stenoread`` gives up at 890 s).
DEFAULT_QUERY_TIMEOUT_SEC = 900
DEFAULT_MAX_CONCURRENT_QUERIES = 4
DEFAULT_STENOTYPE_RESTART_MAX_SEC = 60

#: Go's ``int`` on the platforms upstream ran on; larger numbers failed to decode.
_INT64_MAX = (1 << 63) - 1
#: Linux interface names are at most IFNAMSIZ - 1 bytes.
_IFNAMSIZ = 16
_COMMENT_PREFIXES = ("_", "#", "//")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "ClientSettings",
    "Config",
    "ConfigError",
    "ThreadConfig",
    "check_directories",
    "client_settings",
    "config_path",
    "load",
    "parse_text",
]


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` holds one line per problem.

    Each line names the file, the key (with its path, ``Threads[1].Port``), what
    is wrong and the value as written, so that it can be logged as is.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@attrs.frozen(kw_only=True)
class ThreadConfig:
    """One capture thread: where its packets and indexes go, and how long they stay.

    The constructor checks nothing; :meth:`Config.from_json` is the validating
    way in.
    """

    packets_directory: Path
    index_directory: Path
    disk_free_percentage: int = DEFAULT_DISK_FREE_PERCENTAGE
    max_directory_files: int = DEFAULT_MAX_DIRECTORY_FILES
    #: steno's time-based retention: delete files older than this; None = no age limit.
    max_age_hours: int | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "PacketsDirectory": str(self.packets_directory),
            "IndexDirectory": str(self.index_directory),
            "DiskFreePercentage": self.disk_free_percentage,
            "MaxDirectoryFiles": self.max_directory_files,
        }
        if self.max_age_hours is not None:
            out["MaxAgeHours"] = self.max_age_hours
        return out


@attrs.frozen(kw_only=True)
class Config:
    """The daemon's effective configuration (upstream's keys in snake_case, plus steno's).

    The constructor checks nothing, so tests and code can build one directly;
    :meth:`from_json` is the validating way in from a file.
    """

    threads: tuple[ThreadConfig, ...]
    interface: str
    port: int
    host: str
    cert_path: Path
    #: None: steno's own ``stenotype``, installed beside the daemon.
    stenotype_path: str | None = None
    flags: tuple[str, ...] = ()
    max_open_files: int = DEFAULT_MAX_OPEN_FILES
    query_timeout_sec: int = DEFAULT_QUERY_TIMEOUT_SEC
    max_concurrent_queries: int = DEFAULT_MAX_CONCURRENT_QUERIES
    stenotype_restart_max_sec: int = DEFAULT_STENOTYPE_RESTART_MAX_SEC

    @property
    def host_address(self) -> IPAddress:
        return ipaddress.ip_address(self.host)

    @classmethod
    def from_json(cls, obj: object, *, source: str) -> tuple[Config, tuple[str, ...]]:
        """Validates a parsed JSON document; returns the config and its warnings.

        `source` names the document in messages (normally the file's path).
        Raises :class:`ConfigError` listing every problem found.
        """
        issues = _Issues(source)
        config = _read_config(obj, issues)
        if issues.errors or config is None:
            raise ConfigError(issues.errors)
        return config, tuple(issues.warnings)

    def to_json(self) -> dict[str, object]:
        """What ``/debug/config`` serves: upstream's Go field names and order, then steno's.

        Upstream re-encoded its Go struct, so the effective defaults appear,
        ``Rpc`` is ``null`` (steno serves no gRPC) and ``TestimonySocket`` is
        empty.  ``StenotypePath`` is ``""`` when steno's own stenotype is used.
        Feeding the result back to :meth:`from_json` gives an equal config.
        """
        return {
            "Rpc": None,
            "StenotypePath": self.stenotype_path or "",
            "Threads": [t.to_json() for t in self.threads],
            "Interface": self.interface,
            "TestimonySocket": "",
            "Flags": list(self.flags),
            "Port": self.port,
            "Host": self.host,
            "CertPath": str(self.cert_path),
            "MaxOpenFiles": self.max_open_files,
            "QueryTimeoutSec": self.query_timeout_sec,
            "MaxConcurrentQueries": self.max_concurrent_queries,
            "StenotypeRestartMaxSec": self.stenotype_restart_max_sec,
        }


class ClientSettings(NamedTuple):
    """What a client needs from the config file: where the server is, where the keys are."""

    host: str
    port: int
    cert_path: Path


def config_path(environ: Mapping[str, str]) -> Path:
    """The config file clients and stenokeys read: ``$STENOGRAPHER_CONFIG`` or the default."""
    return Path(environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def parse_text(text: str, *, source: str) -> tuple[Config, tuple[str, ...]]:
    """Parses and validates the text of a config file (pure: no I/O)."""
    return Config.from_json(_decode(text, source), source=source)


def load(path: str | os.PathLike[str], *, warn: Callable[[str], None] | None = None) -> Config:
    """Reads and validates the config file at `path`.

    Warnings (ignored ``Rpc``, a 0 that means a default) go to `warn`, one line
    each; without `warn` they are dropped, so a daemon should pass its logger's.
    """
    source = os.fspath(path)
    config, warnings = parse_text(_read_text(source), source=source)
    if warn is not None:
        for line in warnings:
            warn(line)
    return config


def client_settings(path: str | os.PathLike[str]) -> ClientSettings:
    """``Host``, ``Port`` and ``CertPath`` from the config at `path`, ignoring all else.

    Lenient on purpose: an analyst's copy of the file may name directories that
    do not exist there, or keys of another steno version.  The three keys used
    are still checked (Host an IP address, Port in range, CertPath a string) and
    a bad one raises :class:`ConfigError`.  ``CertPath`` may be relative here:
    it is then relative to the working directory, as it was for upstream's
    ``stenocurl``.
    """
    source = os.fspath(path)
    obj = _decode(_read_text(source), source)
    issues = _Issues(source)
    if not isinstance(obj, dict):
        issues.error("(top level)", "must be a JSON object", obj)
        raise ConfigError(issues.errors)
    keys = _Keys(obj, "", ("Host", "Port", "CertPath"), issues, strict=False)
    host = _host(keys, issues)
    port = _int(keys, "Port", issues, minimum=1, maximum=65535, required=True)
    cert_path = _string(keys, "CertPath", issues, required=True)
    if issues.errors or host is None or port is None or cert_path is None:
        raise ConfigError(issues.errors)
    return ClientSettings(host, port, Path(cert_path))


def check_directories(config: Config, *, source: str = "config") -> None:
    """Checks that every thread directory exists or can be created, and is usable.

    Usable: a directory that this process (effective ids) can list, enter and
    write in.  A missing directory passes when its nearest existing ancestor is
    a directory this process can write in (the daemon creates it, 0700, as
    upstream did).  Raises :class:`ConfigError` listing every problem.
    """
    problems: list[str] = []
    for n, thread in enumerate(config.threads):
        for key, directory in (
            ("PacketsDirectory", thread.packets_directory),
            ("IndexDirectory", thread.index_directory),
        ):
            problem = _directory_problem(directory)
            if problem is not None:
                problems.append(f"{source}: Threads[{n}].{key}: {problem}: {_show(str(directory))}")
    if problems:
        raise ConfigError(problems)


# -- reading -----------------------------------------------------------------------------


def _read_text(source: str) -> str:
    try:
        with open(source, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read the config file: {exc.strerror}"]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{source}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start}"]
        ) from None


class _ObjectWithDuplicates(dict[str, object]):
    """A JSON object that remembers keys written more than once (json keeps the last)."""

    duplicates: tuple[str, ...] = ()


def _object_hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = _ObjectWithDuplicates()
    dups: list[str] = []
    for key, value in pairs:
        if key in obj and key not in dups:
            dups.append(key)
        obj[key] = value
    if dups:
        obj.duplicates = tuple(dups)
    return obj


class _NotJSON(ValueError):
    pass


def _refuse_constant(name: str) -> object:
    raise _NotJSON(name)


def _decode(text: str, source: str) -> object:
    """JSON text → Python value; malformed text is a ConfigError with line and column."""
    try:
        return json.loads(text, object_pairs_hook=_object_hook, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [f"{source}: line {exc.lineno}, column {exc.colno}: malformed JSON: {exc.msg}"]
        ) from None
    except _NotJSON as exc:
        raise ConfigError(
            [f"{source}: malformed JSON: {exc} is not a JSON number (Go's decoder refused it too)"]
        ) from None
    except RecursionError:
        raise ConfigError([f"{source}: malformed JSON: nested too deeply"]) from None


# -- validation ---------------------------------------------------------------------------

_THREAD_KEYS = (
    "PacketsDirectory",
    "IndexDirectory",
    "DiskFreePercentage",
    "MaxDirectoryFiles",
    "MaxAgeHours",
)
_TOP_KEYS = (
    "Threads",
    "StenotypePath",
    "Interface",
    "TestimonySocket",
    "Flags",
    "Port",
    "Host",
    "CertPath",
    "MaxOpenFiles",
    "Rpc",
    "QueryTimeoutSec",
    "MaxConcurrentQueries",
    "StenotypeRestartMaxSec",
)


def _show(value: object, limit: int = 80) -> str:
    """A value as the user wrote it (JSON), cut short if long."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_NO_VALUE = object()


@attrs.define
class _Issues:
    source: str
    errors: list[str] = attrs.Factory(list)
    warnings: list[str] = attrs.Factory(list)

    def _line(self, key: str, problem: str, value: object) -> str:
        tail = "" if value is _NO_VALUE else f": {_show(value)}"
        return f"{self.source}: {key}: {problem}{tail}"

    def error(self, key: str, problem: str, value: object = _NO_VALUE) -> None:
        self.errors.append(self._line(key, problem, value))

    def warn(self, key: str, problem: str, value: object = _NO_VALUE) -> None:
        self.warnings.append(self._line(key, problem, value))


class _Keys:
    """One JSON object's keys matched to the known ones, as Go did (exact, then any case).

    Reports keys given twice and, when `strict`, unknown keys with the closest
    known one.  ``get`` returns the value, or None when absent or null.
    """

    def __init__(
        self,
        obj: dict[str, object],
        prefix: str,
        known: tuple[str, ...],
        issues: _Issues,
        *,
        strict: bool,
    ) -> None:
        self.prefix = prefix
        self._values: dict[str, object] = {}
        folded = {k.casefold(): k for k in known}
        written: dict[str, str] = {}
        for dup in getattr(obj, "duplicates", ()):
            canonical = dup if dup in known else folded.get(dup.casefold())
            if canonical is not None or strict:
                issues.error(self.path(dup), "given more than once in the same object")
        for key, value in obj.items():
            canonical = key if key in known else folded.get(key.casefold())
            if canonical is None:
                if strict and not key.startswith(_COMMENT_PREFIXES):
                    issues.error(self.path(key), _unknown_key_problem(key, value, known))
                continue
            if canonical in written:
                issues.error(
                    self.path(canonical),
                    f"given twice, as {_show(written[canonical])} and {_show(key)}",
                )
                continue
            written[canonical] = key
            self._values[canonical] = value

    def path(self, key: str) -> str:
        if not key or not key.isprintable() or any(c.isspace() for c in key):
            key = _show(key)
        return f"{self.prefix}.{key}" if self.prefix else key

    def get(self, key: str) -> object:
        return self._values.get(key)


def _unknown_key_problem(key: str, value: object, known: tuple[str, ...]) -> str:
    by_fold = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(key.casefold(), list(by_fold), n=1, cutoff=0.6)
    hint = f"; did you mean {_show(by_fold[close[0]])}?" if close else ""
    return f"unknown key (value {_show(value)}){hint}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(
    keys: _Keys,
    key: str,
    issues: _Issues,
    *,
    minimum: int,
    maximum: int = _INT64_MAX,
    required: bool = False,
    default: int | None = None,
    upstream_default: bool = False,
    problem: str | None = None,
) -> int | None:
    """An integer key.  `upstream_default`: values <= 0 mean `default`, as upstream."""
    value = keys.get(key)
    path = keys.path(key)
    if value is None:
        if required:
            issues.error(path, "missing (required)")
        return default
    if not _is_int(value):
        issues.error(path, "must be an integer", value)
        return None
    assert isinstance(value, int)
    if upstream_default and value <= 0:
        issues.warn(path, f"{value} means the default, {default}, as upstream")
        return default
    if not minimum <= value <= maximum:
        issues.error(path, problem or _range_problem(minimum, maximum), value)
        return None
    return value


def _range_problem(minimum: int, maximum: int) -> str:
    if maximum == _INT64_MAX:
        return f"must be at least {minimum}"
    return f"must be between {minimum} and {maximum}"


def _string(keys: _Keys, key: str, issues: _Issues, *, required: bool = False) -> str | None:
    value = keys.get(key)
    path = keys.path(key)
    if value is None or value == "":
        if required:
            if value is None:
                issues.error(path, "missing (required)")
            else:
                issues.error(path, "must not be empty", value)
        return None
    if not isinstance(value, str):
        issues.error(path, "must be a string", value)
        return None
    return value


def _absolute_dir(keys: _Keys, key: str, issues: _Issues) -> Path | None:
    text = _string(keys, key, issues, required=True)
    if text is None:
        return None
    if "\0" in text:
        issues.error(keys.path(key), "must not contain a NUL character", text)
        return None
    if not text.startswith("/"):
        issues.error(keys.path(key), "must be an absolute path", text)
        return None
    return Path(text)


def _host(keys: _Keys, issues: _Issues) -> str | None:
    text = _string(keys, "Host", issues, required=True)
    if text is None:
        return None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        issues.error(
            "Host",
            "must be an IP address (the address to listen on; host names are not accepted)",
            text,
        )
        return None
    if "%" in text:
        issues.error("Host", "must be an IP address without a zone (%…)", text)
        return None
    return text


def _interface(keys: _Keys, issues: _Issues) -> str | None:
    text = _string(keys, "Interface", issues, required=True)
    if text is None:
        return None
    if (
        len(text.encode()) >= _IFNAMSIZ
        or text in (".", "..")
        or any(c == "/" or c.isspace() or c == "\0" for c in text)
    ):
        issues.error(
            "Interface",
            f"is not a network interface name (at most {_IFNAMSIZ - 1} bytes, no / or spaces)",
            text,
        )
        return None
    return text


def _stenotype_path(keys: _Keys, issues: _Issues) -> str | None:
    text = _string(keys, "StenotypePath", issues)
    if text is None:
        return None
    if "/" in text and not text.startswith("/"):
        issues.error(
            "StenotypePath",
            "must be an absolute path or a bare command name (found on PATH)",
            text,
        )
        return None
    return text


def _flags(keys: _Keys, issues: _Issues) -> tuple[str, ...] | None:
    value = keys.get("Flags")
    if value is None:
        return ()
    if not isinstance(value, list):
        issues.error("Flags", "must be a list of strings", value)
        return None
    ok = True
    for i, flag in enumerate(value):
        if not isinstance(flag, str):
            issues.error(f"Flags[{i}]", "must be a string", flag)
            ok = False
    return tuple(value) if ok else None


def _read_thread(obj: object, n: int, issues: _Issues) -> ThreadConfig | None:
    path = f"Threads[{n}]"
    if not isinstance(obj, dict):
        issues.error(path, "must be an object with PacketsDirectory and IndexDirectory", obj)
        return None
    keys = _Keys(obj, path, _THREAD_KEYS, issues, strict=True)
    packets = _absolute_dir(keys, "PacketsDirectory", issues)
    index = _absolute_dir(keys, "IndexDirectory", issues)
    free = _int(
        keys,
        "DiskFreePercentage",
        issues,
        minimum=1,
        maximum=99,
        default=DEFAULT_DISK_FREE_PERCENTAGE,
        upstream_default=True,
        problem="must be between 1 and 99 (100 or more would delete every file)",
    )
    max_files = _int(
        keys,
        "MaxDirectoryFiles",
        issues,
        minimum=1,
        default=DEFAULT_MAX_DIRECTORY_FILES,
        upstream_default=True,
    )
    max_age = _int(keys, "MaxAgeHours", issues, minimum=1)
    bad_age = keys.get("MaxAgeHours") is not None and max_age is None
    if packets is None or index is None or free is None or max_files is None or bad_age:
        return None
    return ThreadConfig(
        packets_directory=packets,
        index_directory=index,
        disk_free_percentage=free,
        max_directory_files=max_files,
        max_age_hours=max_age,
    )


def _check_distinct_directories(threads: list[ThreadConfig], issues: _Issues) -> None:
    """Packet and index files share names, so no two thread directories may coincide."""
    seen: dict[PurePosixPath, str] = {}
    for n, t in enumerate(threads):
        for key, directory in (
            ("PacketsDirectory", t.packets_directory),
            ("IndexDirectory", t.index_directory),
        ):
            normal = PurePosixPath(os.path.normpath(directory))
            here = f"Threads[{n}].{key}"
            if normal in seen:
                issues.error(here, f"is the same directory as {seen[normal]}", str(directory))
            else:
                seen[normal] = here


def _read_config(obj: object, issues: _Issues) -> Config | None:
    if not isinstance(obj, dict):
        issues.error("(top level)", "must be a JSON object", obj)
        return None
    keys = _Keys(obj, "", _TOP_KEYS, issues, strict=True)

    threads: list[ThreadConfig] = []
    raw_threads = keys.get("Threads")
    threads_ok = False
    if raw_threads is None:
        issues.error("Threads", "missing (required): list at least one capture thread")
    elif not isinstance(raw_threads, list):
        issues.error("Threads", "must be a list of thread objects", raw_threads)
    elif not raw_threads:
        issues.error("Threads", "must list at least one capture thread", raw_threads)
    else:
        read = [_read_thread(t, n, issues) for n, t in enumerate(raw_threads)]
        threads = [t for t in read if t is not None]
        threads_ok = len(threads) == len(read)
        if threads_ok:
            _check_distinct_directories(threads, issues)

    testimony = keys.get("TestimonySocket")
    if testimony not in (None, ""):
        issues.error(
            "TestimonySocket",
            "is not supported: steno captures from an Interface only",
            testimony,
        )
    rpc = keys.get("Rpc")
    if rpc is not None:
        if isinstance(rpc, dict):
            issues.warn("Rpc", "ignored: steno serves no gRPC; POST /query over HTTPS only")
        else:
            issues.error("Rpc", "must be an object (and is ignored: steno serves no gRPC)", rpc)

    interface = _interface(keys, issues)
    port = _int(keys, "Port", issues, minimum=1, maximum=65535, required=True)
    host = _host(keys, issues)
    cert_dir = _absolute_dir(keys, "CertPath", issues)
    stenotype = _stenotype_path(keys, issues)
    flags = _flags(keys, issues)
    max_open = _int(
        keys,
        "MaxOpenFiles",
        issues,
        minimum=1,
        default=DEFAULT_MAX_OPEN_FILES,
        upstream_default=True,
    )
    timeout = _int(keys, "QueryTimeoutSec", issues, minimum=1, default=DEFAULT_QUERY_TIMEOUT_SEC)
    concurrent = _int(
        keys, "MaxConcurrentQueries", issues, minimum=1, default=DEFAULT_MAX_CONCURRENT_QUERIES
    )
    restart = _int(
        keys,
        "StenotypeRestartMaxSec",
        issues,
        minimum=1,
        default=DEFAULT_STENOTYPE_RESTART_MAX_SEC,
    )
    if (
        issues.errors
        or not threads_ok
        or interface is None
        or port is None
        or host is None
        or cert_dir is None
        or flags is None
        or max_open is None
        or timeout is None
        or concurrent is None
        or restart is None
    ):
        return None
    return Config(
        threads=tuple(threads),
        interface=interface,
        port=port,
        host=host,
        cert_path=cert_dir,
        stenotype_path=stenotype,
        flags=flags,
        max_open_files=max_open,
        query_timeout_sec=timeout,
        max_concurrent_queries=concurrent,
        stenotype_restart_max_sec=restart,
    )


# -- directories (I/O) ---------------------------------------------------------------------


def _can_use(path: Path, mode: int) -> bool:
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)  # pragma: no cover - Linux supports effective ids


def _who() -> str:
    uid = os.geteuid()
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def _describe(path: Path, st: os.stat_result) -> str:
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"{path} is {stat.filemode(st.st_mode)} {owner}:{group}"


def _directory_problem(directory: Path) -> str | None:
    """None when `directory` is usable or creatable, else what is wrong."""
    try:
        st = directory.stat()
    except (FileNotFoundError, NotADirectoryError):
        return _creation_problem(directory)
    except OSError as exc:
        return f"cannot be examined ({exc.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "exists and is not a directory"
    if not _can_use(directory, os.R_OK | os.W_OK | os.X_OK):
        return f"not readable and writable by {_who()} ({_describe(directory, st)})"
    return None


def _creation_problem(directory: Path) -> str | None:
    parent = directory.parent
    while True:
        try:
            st = parent.stat()
        except (FileNotFoundError, NotADirectoryError):
            parent = parent.parent
            continue
        except OSError as exc:
            return f"does not exist and {parent} cannot be examined ({exc.strerror})"
        break
    if not stat.S_ISDIR(st.st_mode):
        return f"cannot be created: {parent} is not a directory"
    if not _can_use(parent, os.W_OK | os.X_OK):
        return f"does not exist and cannot be created by {_who()} ({_describe(parent, st)})"
    return None
