"""Windows over the prediction log: which are due, and the log's rows cut into them.

A window of length ``w`` is ``[k*w, (k+1)*w)`` for a whole number ``k`` (UTC epoch seconds),
so 1h windows start on the hour and every pass names a window by the same ``window_end``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from opsloop.store.repos._time import at

if TYPE_CHECKING:
    import pyarrow as pa

    from opsloop.store.prediction_log import PredictionLog

MAX_WINDOWS = 1000  # one pass computes at most this many windows: the most recent ones
READ_SPAN_S = 86400.0  # the log is read at most a day at a time (or one window, if longer)
ROLES = ("primary", "canary")


@dataclass(frozen=True)
class Window:
    index: int
    length: float

    @property
    def start(self) -> float:
        return self.index * self.length

    @property
    def end(self) -> float:
        return (self.index + 1) * self.length


def closed_before(until: float, length: float) -> int:
    """The index one past the last window that has closed by ``until``."""
    return math.floor(until / length)


def index_of(moment: float, length: float) -> int:
    """The index of the window holding ``moment``."""
    return math.floor(moment / length)


def first_after(window_end: float, length: float) -> int:
    """The first window starting at or after ``window_end`` (a changed window length may
    leave a gap shorter than one window, never an overlap)."""
    return math.ceil(window_end / length - 1e-9)


def span(first: int, stop: int, length: float) -> list[Window]:
    """Windows ``first`` to ``stop - 1`` (the caller keeps to ``MAX_WINDOWS``)."""
    return [Window(index, length) for index in range(first, stop)]


def chunks(first: int, stop: int, length: float) -> list[tuple[int, int]]:
    """Windows ``first`` to ``stop - 1`` in runs read together: whole UTC days of 1h windows,
    one window at a time when a window is longer than a day."""
    per = max(1, int(READ_SPAN_S // length))
    found = []
    start = first
    while start < stop:
        end = min(stop, (start // per + 1) * per)
        found.append((start, end))
        start = end
    return found


@dataclass
class Traffic:
    """One role's logged predictions over a span, ordered by time, with their labels."""

    table: pa.Table
    times: np.ndarray  # epoch seconds, float64

    @property
    def rows(self) -> int:
        return len(self.times)

    def bounds(self, window: Window) -> tuple[int, int]:
        """The rows of ``window`` are ``[first, last)``."""
        first, last = np.searchsorted(self.times, [window.start, window.end], side="left")
        return int(first), int(last)


def read_traffic(log: PredictionLog, endpoint: str, start: float, end: float) -> dict[str, Traffic]:
    """The primary's and the canary's predictions in ``[start, end)`` (shadows are left out:
    their answers were never returned)."""
    import pyarrow.compute as pc

    table = log.export(endpoint, since=at(start), until=at(end), with_inputs=True)
    found = {}
    for role in ROLES:
        rows = table.filter(pc.equal(table.column("role"), role))
        micros = rows.column("time").cast("int64").to_numpy()
        found[role] = Traffic(rows, micros / 1e6)
    return found


def window_sums(flags: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    """How many ``flags`` are set within each window's rows (one cumulative sum, then two
    lookups per window)."""
    totals = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
    starts = np.array([first for first, _ in bounds], dtype=np.int64)
    ends = np.array([last for _, last in bounds], dtype=np.int64)
    return totals[ends] - totals[starts]
