"""Retention decisions as a table: upstream's rules and the faults it fixes."""

from __future__ import annotations

from steno.store.retention import (
    Candidate,
    FsUsage,
    Reason,
    Shortfall,
    ThreadLimits,
    plan_deletions,
)

MB = 1 << 20
H = 3600 * 10**9


def c(
    thread: int, n: int, *, size: int = 10 * MB, idx: int = MB, pfs: int = 1, ifs: int = 1
) -> Candidate:
    return Candidate(
        thread=thread,
        name=str(1_700_000_000_000_000 + n),
        first_ns=(1_700_000_000 + n) * 10**9,
        last_ns=(1_700_000_000 + n + 60) * 10**9,
        packet_bytes=size,
        index_bytes=idx,
        packet_fs=pfs,
        index_fs=ifs,
    )


LIM = ThreadLimits(max_files=100, disk_free_percent=10)
ROOMY = FsUsage(total_bytes=1000 * MB, available_bytes=500 * MB)


def names(deletions: list) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    return [(d.file.thread, int(d.file.name) - 1_700_000_000_000_000) for d in deletions]


def test_nothing_to_do() -> None:
    files = {0: [c(0, i) for i in range(5)]}
    assert plan_deletions(files, {0: LIM}, {1: ROOMY}, 0) == ([], [])


def test_max_files_deletes_the_oldest_excess() -> None:
    files = {0: [c(0, i) for i in (5, 1, 3, 2, 4)]}
    dels, _ = plan_deletions(
        files, {0: ThreadLimits(max_files=3, disk_free_percent=10)}, {1: ROOMY}, 0
    )
    assert names(dels) == [(0, 1), (0, 2)]
    assert {d.reason for d in dels} == {Reason.MAX_FILES}


def test_just_enough_is_freed() -> None:
    # 10% of 1000 MB must be free; 70 MB is: 30 MB more, i.e. three 11 MB pairs.
    files = {0: [c(0, i) for i in range(10)]}
    dels, short = plan_deletions(
        files, {0: LIM}, {1: FsUsage(total_bytes=1000 * MB, available_bytes=70 * MB)}, 0
    )
    assert names(dels) == [(0, 0), (0, 1), (0, 2)]
    assert short == []


def test_space_held_by_open_deleted_files_counts_as_freed() -> None:
    files = {0: [c(0, i) for i in range(10)]}
    usage = {1: FsUsage(total_bytes=1000 * MB, available_bytes=70 * MB, pending_bytes=25 * MB)}
    dels, _ = plan_deletions(files, {0: LIM}, usage, 0)
    assert names(dels) == [(0, 0)]


def test_threads_on_one_file_system_share_it_oldest_first() -> None:
    files = {0: [c(0, i) for i in (0, 2, 4, 6)], 1: [c(1, i) for i in (1, 3, 5, 7)]}
    limits = {0: LIM, 1: ThreadLimits(max_files=100, disk_free_percent=12)}
    dels, _ = plan_deletions(
        files, limits, {1: FsUsage(total_bytes=1000 * MB, available_bytes=90 * MB)}, 0
    )
    # 12% (the larger threshold) of 1000 MB: 30 MB more → the three oldest, from both threads.
    assert names(dels) == [(0, 0), (1, 1), (0, 2)]


def test_the_index_file_system_is_measured_too() -> None:
    files = {0: [c(0, i, idx=20 * MB, ifs=2) for i in range(5)]}
    usage = {1: ROOMY, 2: FsUsage(total_bytes=100 * MB, available_bytes=0)}
    dels, short = plan_deletions(files, {0: LIM}, usage, 0)
    assert names(dels) == [(0, 0)]
    assert short == []


def test_foreign_data_gives_a_shortfall_not_a_loop() -> None:
    files = {0: [c(0, i) for i in range(3)]}
    usage = {1: FsUsage(total_bytes=1000 * MB, available_bytes=0)}
    dels, short = plan_deletions(files, {0: LIM}, usage, 0)
    assert names(dels) == [(0, 0), (0, 1)]  # never the newest file
    assert short == [Shortfall(1, 100 * MB - 22 * MB)]


def test_max_age_keeps_hours_of_packets() -> None:
    files = {0: [c(0, i * 3600) for i in range(6)]}
    now = (1_700_000_000 + 5 * 3600 + 100) * 10**9
    limits = {0: ThreadLimits(max_files=100, disk_free_percent=10, max_age_ns=2 * H)}
    dels, _ = plan_deletions(files, limits, {1: ROOMY}, now)
    # Kept: files with a packet in the last two hours (the 4 h and 5 h ones).
    assert names(dels) == [(0, 0), (0, 3600), (0, 7200), (0, 10800)]
    assert {d.reason for d in dels} == {Reason.MAX_AGE}


def test_a_file_chosen_by_two_rules_is_deleted_once() -> None:
    files = {0: [c(0, i) for i in range(4)]}
    limits = {0: ThreadLimits(max_files=2, disk_free_percent=10)}
    usage = {1: FsUsage(total_bytes=1000 * MB, available_bytes=50 * MB)}
    dels, _ = plan_deletions(files, limits, usage, 0)
    assert names(dels) == [(0, 0), (0, 1), (0, 2)]
    assert len({d.file.name for d in dels}) == 3
