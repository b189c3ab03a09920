"""A duration as people read it, the same in the CLI and the UI."""

from __future__ import annotations

import pytest

from opsloop.domain.durations import duration_text


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (0.3114, "311 ms"),
        (4.2, "4.20 s"),
        (44.6, "44.6 s"),
        (60, "1 min 00 s"),
        (245, "4 min 05 s"),
        (3 * 3600 + 300, "3 h 05 min"),
        (2 * 86400 + 4 * 3600, "2 d 4 h"),
    ],
)
def test_a_duration_reads_in_the_unit_that_fits(seconds: float | None, shown: str) -> None:
    assert duration_text(seconds) == shown
