from __future__ import annotations

from steno.actors.stenotype.rotation import RotationPolicy
from steno.native.capture import RunStatus

S = 1_000_000_000


def test_rotates_at_the_age_limit_not_a_second_later() -> None:
    policy = RotationPolicy(max_age_ns=60 * S)
    assert not policy.due(0, 60 * S - 1, RunStatus.DEADLINE)
    assert policy.due(0, 60 * S, RunStatus.DEADLINE)


def test_full_file_or_index_rotates_at_once() -> None:
    policy = RotationPolicy(max_age_ns=60 * S)
    assert policy.due(0, 1, RunStatus.FILE_FULL)
    assert policy.due(0, 1, RunStatus.INDEX_FULL)
    assert not policy.due(0, 1, RunStatus.DEADLINE)


def test_deadline_is_the_sooner_of_poll_and_age() -> None:
    policy = RotationPolicy(max_age_ns=60 * S, poll_ns=S // 4)
    assert policy.deadline(0, 0) == S // 4
    assert policy.deadline(0, 60 * S - 10) == 60 * S
