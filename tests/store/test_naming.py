from __future__ import annotations

from pathlib import Path

from steno.store.naming import NameClock, ThreadDirs, hidden, is_hidden, parse_micros, visible


def test_hidden_and_visible_names() -> None:
    assert hidden("123") == ".123"
    assert visible(".123") == "123" and visible("123") == "123"
    assert is_hidden(".123") and not is_hidden("123")


def test_parse_micros_accepts_only_digits() -> None:
    assert parse_micros("1700000000000000") == 1700000000000000
    assert parse_micros(".1700000000000000") == 1700000000000000
    for foreign in ["dhcp", "12a", "", ".", "\uff11\uff12"]:
        assert parse_micros(foreign) is None


def test_name_clock_never_repeats_or_goes_back() -> None:
    clock = NameClock()
    first = clock.next_name(5_000_000_000)
    assert first == "5000000"
    assert clock.next_name(5_000_000_000) == "5000001"
    assert clock.next_name(1_000) == "5000002"  # the wall clock stepped back
    assert clock.next_name(9_000_000_000) == "9000000"


def test_thread_dirs_follow_upstream_layout(tmp_path: Path) -> None:
    dirs = ThreadDirs.under(tmp_path, 3)
    assert dirs.packets == tmp_path / "PKT3" and dirs.index == tmp_path / "IDX3"
    assert dirs.packet_path("1") == tmp_path / "PKT3" / "1"
