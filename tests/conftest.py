"""Fixtures shared by the test suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from steno.lab.netns import Lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh network-namespace lab (gen0/cap0), torn down after the test.

    Not root, or no iproute2: LabError, so the test errors out loudly rather
    than being skipped."""
    with Lab() as the_lab:
        yield the_lab
