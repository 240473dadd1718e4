"""steno.config: every key, every message, Go's decoding habits, and the real files."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steno import config
from steno.config import ClientSettings, Config, ConfigError, ThreadConfig

REPO = Path(__file__).resolve().parent.parent
DEBIAN_COPY = Path(__file__).resolve().parent / "data" / "debian" / "config"
SRC = "test.conf"

JSON = dict[str, object]


def base() -> JSON:
    """A complete valid config (every key, steno's too); cases below break one thing."""
    return {
        "Threads": [
            {
                "PacketsDirectory": "/data/t0/packets",
                "IndexDirectory": "/data/t0/index",
                "DiskFreePercentage": 15,
                "MaxDirectoryFiles": 20000,
                "MaxAgeHours": 48,
            },
            {"PacketsDirectory": "/data/t1/packets", "IndexDirectory": "/data/t1/index"},
        ],
        "StenotypePath": "/usr/sbin/stenotype",
        "Interface": "eth1",
        "Flags": ["-v", "--blocks=2048"],
        "Port": 1234,
        "Host": "127.0.0.1",
        "CertPath": "/etc/stenographer/certs",
        "MaxOpenFiles": 5000,
        "QueryTimeoutSec": 600,
        "MaxConcurrentQueries": 8,
        "StenotypeRestartMaxSec": 30,
    }


def errors_of(obj: object) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        Config.from_json(obj, source=SRC)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def test_every_key_is_read() -> None:
    cfg, warnings = Config.from_json(base(), source=SRC)
    assert warnings == ()
    assert cfg == Config(
        threads=(
            ThreadConfig(
                packets_directory=Path("/data/t0/packets"),
                index_directory=Path("/data/t0/index"),
                disk_free_percentage=15,
                max_directory_files=20000,
                max_age_hours=48,
            ),
            ThreadConfig(
                packets_directory=Path("/data/t1/packets"),
                index_directory=Path("/data/t1/index"),
            ),
        ),
        interface="eth1",
        port=1234,
        host="127.0.0.1",
        cert_path=Path("/etc/stenographer/certs"),
        stenotype_path="/usr/sbin/stenotype",
        flags=("-v", "--blocks=2048"),
        max_open_files=5000,
        query_timeout_sec=600,
        max_concurrent_queries=8,
        stenotype_restart_max_sec=30,
    )


def test_defaults() -> None:
    minimal: JSON = {
        "Threads": [{"PacketsDirectory": "/p", "IndexDirectory": "/i"}],
        "Interface": "eth0",
        "Port": 1234,
        "Host": "::1",
        "CertPath": "/c",
    }
    cfg, warnings = Config.from_json(minimal, source=SRC)
    assert warnings == ()
    (thread,) = cfg.threads
    assert (thread.disk_free_percentage, thread.max_directory_files, thread.max_age_hours) == (
        10,
        30000,
        None,
    )
    assert cfg.stenotype_path is None
    assert cfg.flags == ()
    assert (
        cfg.max_open_files,
        cfg.query_timeout_sec,
        cfg.max_concurrent_queries,
        cfg.stenotype_restart_max_sec,
    ) == (100000, 900, 4, 60)
    assert str(cfg.host_address) == "::1"


def at(path: str, value: object, *, delete: bool = False) -> Callable[[JSON], None]:
    """A mutation of base(): set (or delete) the key at a dotted path like Threads.1.Port."""

    def mutate(obj: JSON) -> None:
        *parents, last = path.split(".")
        node: object = obj
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]  # type: ignore[index]
        if isinstance(node, list):
            node[int(last)] = value
        elif delete:
            assert isinstance(node, dict)
            del node[last]
        else:
            assert isinstance(node, dict)
            node[last] = value

    return mutate


def drop(path: str) -> Callable[[JSON], None]:
    return at(path, None, delete=True)


S = SRC
ERROR_CASES: list[tuple[Callable[[JSON], None], str]] = [
    # Threads
    (drop("Threads"), f"{S}: Threads: missing (required): list at least one capture thread"),
    (at("Threads", []), f"{S}: Threads: must list at least one capture thread: []"),
    (at("Threads", {"a": 1}), f'{S}: Threads: must be a list of thread objects: {{"a": 1}}'),
    (
        at("Threads.1", "/data"),
        f'{S}: Threads[1]: must be an object with PacketsDirectory and IndexDirectory: "/data"',
    ),
    (drop("Threads.1.IndexDirectory"), f"{S}: Threads[1].IndexDirectory: missing (required)"),
    (
        at("Threads.1.IndexDirectory", "data/index"),
        f'{S}: Threads[1].IndexDirectory: must be an absolute path: "data/index"',
    ),
    (
        at("Threads.0.PacketsDirectory", ""),
        f'{S}: Threads[0].PacketsDirectory: must not be empty: ""',
    ),
    (
        at("Threads.0.PacketsDirectory", 7),
        f"{S}: Threads[0].PacketsDirectory: must be a string: 7",
    ),
    (
        at("Threads.0.PacketsDirectory", "/data/\x00x"),
        f'{S}: Threads[0].PacketsDirectory: must not contain a NUL character: "/data/\\u0000x"',
    ),
    (
        at("Threads.0.IndexDirectory", "/data/t0/packets/"),
        f"{S}: Threads[0].IndexDirectory: is the same directory as "
        f'Threads[0].PacketsDirectory: "/data/t0/packets"',
    ),
    (
        at("Threads.1.PacketsDirectory", "/data/t0/index"),
        f"{S}: Threads[1].PacketsDirectory: is the same directory as "
        f'Threads[0].IndexDirectory: "/data/t0/index"',
    ),
    (
        at("Threads.0.DiskFreePercentage", 100),
        f"{S}: Threads[0].DiskFreePercentage: must be between 1 and 99 "
        "(100 or more would delete every file): 100",
    ),
    (
        at("Threads.0.DiskFreePercentage", 10.5),
        f"{S}: Threads[0].DiskFreePercentage: must be an integer: 10.5",
    ),
    (
        at("Threads.0.DiskFreePercentage", "10"),
        f'{S}: Threads[0].DiskFreePercentage: must be an integer: "10"',
    ),
    (
        at("Threads.0.MaxDirectoryFiles", True),
        f"{S}: Threads[0].MaxDirectoryFiles: must be an integer: true",
    ),
    (
        at("Threads.0.MaxDirectoryFiles", 1 << 63),
        f"{S}: Threads[0].MaxDirectoryFiles: must be at least 1: 9223372036854775808",
    ),
    (at("Threads.0.MaxAgeHours", 0), f"{S}: Threads[0].MaxAgeHours: must be at least 1: 0"),
    (
        at("Threads.0.MaxAgeHours", "2d"),
        f'{S}: Threads[0].MaxAgeHours: must be an integer: "2d"',
    ),
    (
        at("Threads.0.DiskFreePercentag", 5),
        f"{S}: Threads[0].DiskFreePercentag: unknown key (value 5); "
        'did you mean "DiskFreePercentage"?',
    ),
    # Interface
    (drop("Interface"), f"{S}: Interface: missing (required)"),
    (at("Interface", ""), f'{S}: Interface: must not be empty: ""'),
    (at("Interface", ["eth0"]), f'{S}: Interface: must be a string: ["eth0"]'),
    (
        at("Interface", "eth0 eth1"),
        f"{S}: Interface: is not a network interface name "
        '(at most 15 bytes, no / or spaces): "eth0 eth1"',
    ),
    (
        at("Interface", "a-very-long-interface"),
        f"{S}: Interface: is not a network interface name "
        '(at most 15 bytes, no / or spaces): "a-very-long-interface"',
    ),
    (
        at("TestimonySocket", "/var/run/testimony.sock"),
        f"{S}: TestimonySocket: is not supported: steno captures from an Interface only: "
        '"/var/run/testimony.sock"',
    ),
    # Port
    (drop("Port"), f"{S}: Port: missing (required)"),
    (at("Port", 0), f"{S}: Port: must be between 1 and 65535: 0"),
    (at("Port", 65536), f"{S}: Port: must be between 1 and 65535: 65536"),
    (at("Port", "1234"), f'{S}: Port: must be an integer: "1234"'),
    (at("Port", 1234.0), f"{S}: Port: must be an integer: 1234.0"),
    # Host
    (drop("Host"), f"{S}: Host: missing (required)"),
    (
        at("Host", "localhost"),
        f"{S}: Host: must be an IP address (the address to listen on; "
        'host names are not accepted): "localhost"',
    ),
    (
        at("Host", "010.0.0.1"),
        f"{S}: Host: must be an IP address (the address to listen on; "
        'host names are not accepted): "010.0.0.1"',
    ),
    (
        at("Host", "fe80::1%eth0"),
        f'{S}: Host: must be an IP address without a zone (%…): "fe80::1%eth0"',
    ),
    (at("Host", 2130706433), f"{S}: Host: must be a string: 2130706433"),
    # CertPath
    (drop("CertPath"), f"{S}: CertPath: missing (required)"),
    (at("CertPath", "certs"), f'{S}: CertPath: must be an absolute path: "certs"'),
    # StenotypePath, Flags
    (
        at("StenotypePath", "bin/stenotype"),
        f"{S}: StenotypePath: must be an absolute path or a bare command name "
        '(found on PATH): "bin/stenotype"',
    ),
    (at("Flags", "-v"), f'{S}: Flags: must be a list of strings: "-v"'),
    (at("Flags", ["-v", 3]), f"{S}: Flags[1]: must be a string: 3"),
    # Limits
    (at("MaxOpenFiles", "many"), f'{S}: MaxOpenFiles: must be an integer: "many"'),
    (at("QueryTimeoutSec", 0), f"{S}: QueryTimeoutSec: must be at least 1: 0"),
    (at("MaxConcurrentQueries", -1), f"{S}: MaxConcurrentQueries: must be at least 1: -1"),
    (
        at("StenotypeRestartMaxSec", 1.5),
        f"{S}: StenotypeRestartMaxSec: must be an integer: 1.5",
    ),
    # Rpc, unknown and doubled keys
    (
        at("Rpc", "yes"),
        f'{S}: Rpc: must be an object (and is ignored: steno serves no gRPC): "yes"',
    ),
    (
        at("Interfase", "eth0"),
        f'{S}: Interfase: unknown key (value "eth0"); did you mean "Interface"?',
    ),
    (at("Colour", "blue"), f'{S}: Colour: unknown key (value "blue")'),
    (at("port", 1235), f'{S}: Port: given twice, as "Port" and "port"'),
]


@pytest.mark.parametrize(("mutate", "expected"), ERROR_CASES)
def test_each_problem_is_one_line_naming_key_and_value(
    mutate: Callable[[JSON], None], expected: str
) -> None:
    obj = base()
    mutate(obj)
    assert errors_of(obj) == (expected,)


def test_problems_are_all_reported_at_once() -> None:
    obj = base()
    at("Port", 0)(obj)
    at("Host", "sensor")(obj)
    drop("Threads.0.IndexDirectory")(obj)
    problems = errors_of(obj)
    assert [p.split(": ")[1] for p in problems] == ["Threads[0].IndexDirectory", "Port", "Host"]


@pytest.mark.parametrize("top", [[], "config", 3, None])
def test_top_level_must_be_an_object(top: object) -> None:
    assert errors_of(top) == (f"{SRC}: (top level): must be a JSON object: {json.dumps(top)}",)


def test_keys_match_case_insensitively_as_go_did() -> None:
    def fold(obj: object, how: Callable[[str], str]) -> object:
        if isinstance(obj, dict):
            return {how(k): fold(v, how) for k, v in obj.items()}
        if isinstance(obj, list):
            return [fold(v, how) for v in obj]
        return obj

    expected, _ = Config.from_json(base(), source=SRC)
    for how in (str.lower, str.upper, str.swapcase):
        assert Config.from_json(fold(base(), how), source=SRC)[0] == expected
    # Go's fold (Unicode simple folding) also equates the Kelvin sign with k.
    obj = base()
    obj["Threads"][0] = {"Pac\u212aetsDirectory": "/x/p", "IndexDirectory": "/x/i"}  # type: ignore[index]
    assert Config.from_json(obj, source=SRC)[0].threads[0].packets_directory == Path("/x/p")


def test_null_is_absent_as_in_go() -> None:
    obj = base()
    for key in ("StenotypePath", "Flags", "MaxOpenFiles", "QueryTimeoutSec", "Rpc"):
        obj[key] = None
    obj["Threads"][0]["MaxAgeHours"] = None  # type: ignore[index]
    cfg, warnings = Config.from_json(obj, source=SRC)
    assert warnings == ()
    assert cfg.stenotype_path is None
    assert cfg.flags == ()
    assert cfg.max_open_files == 100000
    assert cfg.threads[0].max_age_hours is None
    assert errors_of({**base(), "Port": None}) == (f"{SRC}: Port: missing (required)",)


@pytest.mark.parametrize(
    ("path", "value", "field", "default"),
    [
        ("Threads.0.DiskFreePercentage", 0, "disk_free_percentage", 10),
        ("Threads.0.DiskFreePercentage", -3, "disk_free_percentage", 10),
        ("Threads.0.MaxDirectoryFiles", 0, "max_directory_files", 30000),
        ("MaxOpenFiles", -1, "max_open_files", 100000),
    ],
)
def test_upstream_zero_means_default_with_a_warning(
    path: str, value: int, field: str, default: int
) -> None:
    obj = base()
    at(path, value)(obj)
    cfg, warnings = Config.from_json(obj, source=SRC)
    holder: object = cfg.threads[0] if path.startswith("Threads") else cfg
    assert getattr(holder, field) == default
    key = path.replace("Threads.0.", "Threads[0].")
    assert warnings == (f"{SRC}: {key}: {value} means the default, {default}, as upstream",)


def test_rpc_is_ignored_with_a_warning() -> None:
    obj = base()
    obj["Rpc"] = {"CaCert": "/x", "ServerPort": 8443, "Anything": [1]}
    cfg, warnings = Config.from_json(obj, source=SRC)
    assert cfg == Config.from_json(base(), source=SRC)[0]
    assert warnings == (f"{SRC}: Rpc: ignored: steno serves no gRPC; POST /query over HTTPS only",)


def test_empty_testimony_socket_and_stenotype_path_are_the_defaults() -> None:
    obj = base()
    obj["TestimonySocket"] = ""
    obj["StenotypePath"] = ""
    cfg, _ = Config.from_json(obj, source=SRC)
    assert cfg.stenotype_path is None
    obj["StenotypePath"] = "stenotype"
    assert Config.from_json(obj, source=SRC)[0].stenotype_path == "stenotype"


def test_comment_keys_are_ignored() -> None:
    obj = base()
    obj["_comment"] = "sensor 4, rack B"
    obj["#Port"] = 9
    obj["//"] = ["anything"]
    obj["Threads"][0]["_MaxAgeHours"] = 1  # type: ignore[index]
    assert Config.from_json(obj, source=SRC)[0] == Config.from_json(base(), source=SRC)[0]


def test_ipv6_and_unspecified_hosts() -> None:
    for host in ("::1", "0.0.0.0", "::", "2001:db8::7", "198.18.0.1"):
        obj = base()
        obj["Host"] = host
        assert Config.from_json(obj, source=SRC)[0].host == host


# -- text: malformed JSON, duplicates, trailing data ----------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{\n  "Port": 1234\n  "Host": "::1"\n}', "line 3, column 3: malformed JSON: "),
        ('{\n  "Port": 1234,\n}\n', "line 3, column 1: malformed JSON: "),
        ("", "line 1, column 1: malformed JSON: Expecting value"),
        ('{"Port": 1}\n{"Port": 2}', "line 2, column 1: malformed JSON: Extra data"),
        ('{"Port": NaN}', "malformed JSON: NaN is not a JSON number"),
        ('{"Port": -Infinity}', "malformed JSON: -Infinity is not a JSON number"),
        ("[" * 100_000, "malformed JSON: nested too deeply"),
    ],
)
def test_malformed_json_names_line_and_column(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.parse_text(text, source=SRC)
    (line,) = info.value.problems
    assert line.startswith(f"{SRC}: {expected}")


def test_a_key_written_twice_is_an_error_at_its_path() -> None:
    text = json.dumps(base())[:-1] + ', "Host": "::1"}'
    with pytest.raises(ConfigError) as info:
        config.parse_text(text, source=SRC)
    assert info.value.problems == (f"{SRC}: Host: given more than once in the same object",)
    text = (
        '{"Threads": [{"PacketsDirectory": "/p", "IndexDirectory": "/i", "IndexDirectory": "/j"}],'
        ' "Interface": "eth0", "Port": 1, "Host": "::1", "CertPath": "/c"}'
    )
    with pytest.raises(ConfigError) as info:
        config.parse_text(text, source=SRC)
    assert info.value.problems == (
        f"{SRC}: Threads[0].IndexDirectory: given more than once in the same object",
    )


def test_byte_order_mark_is_tolerated() -> None:
    path = Path(tempfile.mkdtemp()) / "config"
    try:
        path.write_bytes(b"\xef\xbb\xbf" + json.dumps(base()).encode())
        assert config.load(path) == Config.from_json(base(), source=SRC)[0]
    finally:
        shutil.rmtree(path.parent)


def test_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as info:
        config.load(missing)
    assert str(info.value) == f"{missing}: cannot read the config file: No such file or directory"
    binary = tmp_path / "binary"
    binary.write_bytes(b'{"Host": "\xff"}')
    with pytest.raises(ConfigError) as info:
        config.load(binary)
    assert str(info.value) == f"{binary}: not UTF-8 text: byte 0xff at offset 10"


def test_load_reports_warnings_through_the_callback(tmp_path: Path) -> None:
    obj = base()
    obj["Rpc"] = {}
    path = tmp_path / "config"
    path.write_text(json.dumps(obj))
    seen: list[str] = []
    config.load(path, warn=seen.append)
    assert seen == [f"{path}: Rpc: ignored: steno serves no gRPC; POST /query over HTTPS only"]


# -- to_json (/debug/config) ------------------------------------------------------------------


def test_to_json_has_upstream_field_names_in_go_order_then_steno_keys() -> None:
    cfg, _ = Config.from_json(base(), source=SRC)
    out = cfg.to_json()
    assert list(out) == [
        "Rpc",
        "StenotypePath",
        "Threads",
        "Interface",
        "TestimonySocket",
        "Flags",
        "Port",
        "Host",
        "CertPath",
        "MaxOpenFiles",
        "QueryTimeoutSec",
        "MaxConcurrentQueries",
        "StenotypeRestartMaxSec",
    ]
    assert out["Rpc"] is None
    assert out["TestimonySocket"] == ""
    assert out["Threads"] == [
        {
            "PacketsDirectory": "/data/t0/packets",
            "IndexDirectory": "/data/t0/index",
            "DiskFreePercentage": 15,
            "MaxDirectoryFiles": 20000,
            "MaxAgeHours": 48,
        },
        {
            "PacketsDirectory": "/data/t1/packets",
            "IndexDirectory": "/data/t1/index",
            "DiskFreePercentage": 10,
            "MaxDirectoryFiles": 30000,
        },
    ]


@pytest.mark.parametrize("path", [DEBIAN_COPY, REPO / "etc" / "stenographer" / "config"])
def test_round_trip_through_to_json(path: Path) -> None:
    cfg = config.load(path)
    text = json.dumps(cfg.to_json())
    again, warnings = config.parse_text(text, source="round trip")
    assert again == cfg
    assert warnings == ()


# -- the real files --------------------------------------------------------------------------


def debian_expected() -> Config:
    return Config(
        threads=(
            ThreadConfig(
                packets_directory=Path("/var/lib/stenographer/thread0/packets"),
                index_directory=Path("/var/lib/stenographer/thread0/index"),
                disk_free_percentage=10,
                max_directory_files=30000,
            ),
        ),
        interface="eth0",
        port=1234,
        host="127.0.0.1",
        cert_path=Path("/etc/stenographer/certs"),
        stenotype_path="/usr/sbin/stenotype",
    )


def test_debian_config_copy_loads() -> None:
    assert config.load(DEBIAN_COPY) == debian_expected()


@pytest.mark.upstream
def test_installed_debian_config_loads() -> None:
    installed = Path("/etc/stenographer/config")
    assert installed.exists(), "install Debian's stenographer-common (./dev.sh does)"
    assert config.load(installed) == debian_expected()


def test_shipped_default_config_loads_and_shows_steno_keys() -> None:
    path = REPO / "etc" / "stenographer" / "config"
    seen: list[str] = []
    cfg = config.load(path, warn=seen.append)
    assert seen == []
    assert cfg == debian_expected()
    raw = json.loads(path.read_text())
    for key in (
        "MaxOpenFiles",
        "QueryTimeoutSec",
        "MaxConcurrentQueries",
        "StenotypeRestartMaxSec",
    ):
        assert key in raw
    assert "MaxAgeHours" in raw["Threads"][0]


# -- client_settings and the path --------------------------------------------------------------


def test_client_settings_read_only_three_keys(tmp_path: Path) -> None:
    path = tmp_path / "config"
    obj = base()
    obj["Threads"] = "not even a list"
    obj["SomeFutureKey"] = {"x": 1}
    obj["CertPath"] = "relative/certs"
    path.write_text(json.dumps(obj))
    assert config.client_settings(path) == ClientSettings("127.0.0.1", 1234, Path("relative/certs"))
    with pytest.raises(ConfigError):
        config.load(path)


def test_client_settings_of_debian_config() -> None:
    assert config.client_settings(DEBIAN_COPY) == (
        "127.0.0.1",
        1234,
        Path("/etc/stenographer/certs"),
    )


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"Port": 1234, "CertPath": "/c"}, "Host: missing (required)"),
        ({"Host": "h", "Port": 1234, "CertPath": "/c"}, "Host: must be an IP address"),
        ({"Host": "::1", "CertPath": "/c"}, "Port: missing (required)"),
        ({"Host": "::1", "Port": "1234", "CertPath": "/c"}, 'Port: must be an integer: "1234"'),
        ({"Host": "::1", "Port": 1234}, "CertPath: missing (required)"),
        ({"host": "::1", "Host": "::2", "Port": 1, "CertPath": "/c"}, "Host: given twice"),
        ([1], "(top level): must be a JSON object: [1]"),
    ],
)
def test_client_settings_errors(tmp_path: Path, obj: object, expected: str) -> None:
    path = tmp_path / "config"
    path.write_text(json.dumps(obj))
    with pytest.raises(ConfigError) as info:
        config.client_settings(path)
    (line,) = info.value.problems
    assert line.startswith(f"{path}: {expected}")


def test_config_path_follows_the_environment() -> None:
    assert config.config_path({}) == Path("/etc/stenographer/config")
    assert config.config_path({"STENOGRAPHER_CONFIG": ""}) == Path("/etc/stenographer/config")
    assert config.config_path({"STENOGRAPHER_CONFIG": "/tmp/c"}) == Path("/tmp/c")


# -- check_directories (I/O) -------------------------------------------------------------------


def one_thread(packets: Path, index: Path) -> Config:
    return Config(
        threads=(ThreadConfig(packets_directory=packets, index_directory=index),),
        interface="eth0",
        port=1234,
        host="127.0.0.1",
        cert_path=Path("/c"),
    )


def test_existing_and_creatable_directories_pass(tmp_path: Path) -> None:
    (tmp_path / "packets").mkdir()
    config.check_directories(one_thread(tmp_path / "packets", tmp_path / "new" / "deeper"))
    assert not (tmp_path / "new").exists(), "checking must not create anything"


def test_directory_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError) as info:
        config.check_directories(
            one_thread(tmp_path / "file", tmp_path / "file" / "index"), source=SRC
        )
    assert info.value.problems == (
        f'{SRC}: Threads[0].PacketsDirectory: exists and is not a directory: "{tmp_path}/file"',
        f"{SRC}: Threads[0].IndexDirectory: cannot be created: {tmp_path}/file is not a "
        f'directory: "{tmp_path}/file/index"',
    )


@pytest.fixture
def as_nobody() -> Iterator[Path]:
    """A world-traversable scratch directory, and effective ids of nobody meanwhile.

    check_directories asks with the effective ids, so switching them (not the real
    ones) is enough, and is undone after the test."""
    top = Path(tempfile.mkdtemp(prefix="steno-config-"))
    top.chmod(0o755)
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield top
    finally:
        os.seteuid(0)
        os.setegid(0)
        shutil.rmtree(top)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch effective ids")
def test_directories_not_writable_by_the_daemon_user(as_nobody: Path) -> None:
    os.seteuid(0)
    (as_nobody / "root-owned").mkdir(mode=0o755)
    os.chown(as_nobody / "root-owned", 0, 0)
    (as_nobody / "root-owned").chmod(0o755)
    os.seteuid(65534)
    cfg = one_thread(as_nobody / "root-owned", as_nobody / "root-owned" / "index")
    with pytest.raises(ConfigError) as info:
        config.check_directories(cfg, source=SRC)
    mode = stat.filemode(stat.S_IFDIR | 0o755)
    assert info.value.problems == (
        f"{SRC}: Threads[0].PacketsDirectory: not readable and writable by uid 65534 (nobody) "
        f'({as_nobody}/root-owned is {mode} root:root): "{as_nobody}/root-owned"',
        f"{SRC}: Threads[0].IndexDirectory: does not exist and cannot be created by "
        f"uid 65534 (nobody) ({as_nobody}/root-owned is {mode} root:root): "
        f'"{as_nobody}/root-owned/index"',
    )


# -- property: nothing but ConfigError, whatever the input ----------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
key_names = st.sampled_from(
    [
        "Threads",
        "PacketsDirectory",
        "IndexDirectory",
        "DiskFreePercentage",
        "MaxDirectoryFiles",
        "MaxAgeHours",
        "Port",
        "Host",
        "CertPath",
        "Interface",
        "Flags",
        "Rpc",
        "TestimonySocket",
        "port",
    ]
)


def check_never_crashes(obj: object) -> None:
    try:
        cfg, warnings = Config.from_json(obj, source=SRC)
    except ConfigError as exc:
        problems = exc.problems
    else:
        assert all(isinstance(w, str) for w in warnings)
        assert Config.from_json(json.loads(json.dumps(cfg.to_json())), source=SRC)[0] == cfg
        return
    assert problems
    assert all(line.startswith(f"{SRC}: ") and "\n" not in line for line in problems)


@settings(max_examples=300)
@given(json_values)
def test_random_json_raises_only_config_error(obj: object) -> None:
    check_never_crashes(obj)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.sampled_from(["", "Threads.0.", "Threads.1."]), key_names, json_values))
)
def test_random_changes_to_a_valid_config_raise_only_config_error(
    changes: list[tuple[str, str, object]],
) -> None:
    obj = copy.deepcopy(base())
    for prefix, key, value in changes:
        target: object = obj
        if prefix:
            threads = obj.get("Threads")
            index = int(prefix.split(".")[1])
            if not isinstance(threads, list) or len(threads) <= index:
                continue
            target = threads[index]
        if isinstance(target, dict):
            target[key] = value
    check_never_crashes(obj)


@settings(max_examples=300)
@given(st.text(max_size=60) | st.builds(lambda v: json.dumps(v), json_values))
def test_random_text_raises_only_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        config.parse_text(text, source=SRC)
