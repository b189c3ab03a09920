"""Columns are independent: compare them on threads. NumPy's sorts and searches and Arrow's
counting release the GIL, so the columns' heavy work runs on every core."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def workers() -> int:
    available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, len(available) if available else (os.cpu_count() or 1))


# Below this many rows a column takes well under a millisecond of NumPy work, and the threads'
# hand-offs (and the parts that hold the GIL) cost more than they save.
PARALLEL_FROM_ROWS = 50_000


def map_columns(work: Callable[[str], T], names: Sequence[str], rows: int) -> list[T]:
    """``[work(name) for name in names]``, on up to one thread per core when the tables
    have ``rows`` >= ``PARALLEL_FROM_ROWS``; the first error raised is raised here."""
    count = min(workers(), len(names)) if rows >= PARALLEL_FROM_ROWS else 1
    if count <= 1:
        return [work(name) for name in names]
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="opsloop-drift") as pool:
        return list(pool.map(work, names))
