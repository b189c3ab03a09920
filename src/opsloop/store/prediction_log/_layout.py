"""Where the prediction log keeps its files, and how their names are read back.

::

    <root>/segments/<kind>.<segment-id>.<date>.<endpoint>.jsonl     hot: JSON lines, appended
    <root>/<kind>/endpoint=<endpoint>/date=<date>/<segment-id>.parquet  compacted

``kind`` is ``predictions`` or ``feedback``; ``endpoint`` is percent-encoded. A segment holds the
records of one kind, endpoint and UTC day, so it compacts to exactly one Parquet file, named after
it: a reader that sees both uses the Parquet file. Names starting with ``.`` are in-flight temp
files that every reader ignores.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, unquote

# A logged input ``x`` is the column ``input.x`` in exports and Parquet files.
INPUT_PREFIX = "input."

KINDS = ("predictions", "feedback")
SEGMENTS = "segments"
SEGMENT_SUFFIX = ".jsonl"
PARQUET_SUFFIX = ".parquet"
_EPOCH = dt.date(1970, 1, 1).toordinal()


@lru_cache(maxsize=4096)
def day_to_date(day: int) -> str:
    """``YYYY-MM-DD`` of a UTC day counted from the epoch."""
    return dt.date.fromordinal(_EPOCH + day).isoformat()


@dataclass(frozen=True)
class SegmentName:
    kind: str
    segment_id: str
    date: str
    endpoint: str

    @property
    def filename(self) -> str:
        endpoint = quote(self.endpoint, safe="")
        return f"{self.kind}.{self.segment_id}.{self.date}.{endpoint}{SEGMENT_SUFFIX}"

    @classmethod
    def parse(cls, filename: str) -> SegmentName | None:
        if filename.startswith(".") or not filename.endswith(SEGMENT_SUFFIX):
            return None
        parts = filename[: -len(SEGMENT_SUFFIX)].split(".", 3)
        if len(parts) != 4 or parts[0] not in KINDS:
            return None
        kind, segment_id, date, endpoint = parts
        return cls(kind, segment_id, date, unquote(endpoint))


def segments_dir(root: Path) -> Path:
    return root / SEGMENTS


def endpoint_dir(root: Path, kind: str, endpoint: str) -> Path:
    return root / kind / f"endpoint={quote(endpoint, safe='')}"


def parquet_path(root: Path, name: SegmentName) -> Path:
    partition = endpoint_dir(root, name.kind, name.endpoint) / f"date={name.date}"
    return partition / f"{name.segment_id}{PARQUET_SUFFIX}"


def list_names(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []


def list_segments(root: Path) -> list[SegmentName]:
    names = (SegmentName.parse(entry) for entry in list_names(segments_dir(root)))
    return [name for name in names if name is not None]


def list_parquet(
    root: Path, kind: str, endpoint: str, first: str | None, last: str | None
) -> dict[str, Path]:
    """Compacted files of one endpoint by segment id, dates in ``[first, last]`` (None: open)."""
    found: dict[str, Path] = {}
    base = endpoint_dir(root, kind, endpoint)
    for entry in list_names(base):
        if not entry.startswith("date="):
            continue
        date = entry[len("date=") :]
        if (first is not None and date < first) or (last is not None and date > last):
            continue
        for filename in list_names(base / entry):
            if filename.endswith(PARQUET_SUFFIX) and not filename.startswith("."):
                found[filename[: -len(PARQUET_SUFFIX)]] = base / entry / filename
    return found


def list_endpoints(root: Path) -> set[str]:
    names = {
        unquote(entry[len("endpoint=") :])
        for entry in list_names(root / "predictions")
        if entry.startswith("endpoint=")
    }
    names.update(name.endpoint for name in list_segments(root) if name.kind == "predictions")
    return names


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
