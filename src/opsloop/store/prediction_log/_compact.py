"""Compaction: a sealed or orphaned segment becomes one Parquet file, then is deleted.

The steps are ordered so that a ``kill -9`` anywhere leaves a state the next compaction repairs:

1. lock the segment (fails while its writer lives and writes it);
2. write ``.<segment-id>.parquet.tmp-*`` beside its final name, fsync it;
3. rename it to ``<segment-id>.parquet``, fsync the directory;
4. delete the segment, fsync the segments directory.

Killed before 3: the segment is still there and is compacted again; stray temp files of that
segment are removed first. Killed between 3 and 4: the Parquet file exists, so readers already
skip the segment, and the next compaction only deletes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from pathlib import Path

import pyarrow.parquet as pq

from opsloop.store.prediction_log._layout import (
    SegmentName,
    fsync_dir,
    list_names,
    parquet_path,
    segments_dir,
)
from opsloop.store.prediction_log._records import to_table
from opsloop.store.prediction_log._segments import whole_lines

log = logging.getLogger(__name__)
ROW_GROUP_ROWS = 16_384  # small enough that min/max statistics prune lookups by request id


def compact_all(root: Path) -> int:
    """Compact every segment whose lock can be taken; return how many were compacted."""
    directory = segments_dir(root)
    done = 0
    for filename in list_names(directory):
        if filename.startswith(".") and filename.endswith(".new"):
            _remove_if_unlocked(directory / filename)
            continue
        name = SegmentName.parse(filename)
        if name is None:
            continue
        try:
            done += compact_segment(root, name)
        except OSError:
            # A full disk, say: the segment stays, intact, and is tried again next time.
            log.exception("could not compact prediction log segment %s", filename)
    return done


def compact_segment(root: Path, name: SegmentName) -> bool:
    path = segments_dir(root) / name.filename
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        if not _lock(fd) or not _still_linked(fd, path):
            return False  # being written, or compacted by someone else meanwhile
        target = parquet_path(root, name)
        if not target.exists():
            _write_parquet(fd, name, target)
        os.unlink(path)
        fsync_dir(path.parent)
        return True
    finally:
        os.close(fd)


def _write_parquet(fd: int, name: SegmentName, target: Path) -> None:
    with os.fdopen(os.dup(fd), "rb") as file:
        data = whole_lines(file.read())
    table = to_table(name.kind, data)
    if table is None:
        return
    # Columns null in every row carry no type; leave them out, readers fill in nulls.
    keep = [field.name for field in table.schema if str(field.type) != "null"]
    table = table.select(keep).sort_by("request_id")
    partition = target.parent
    partition.mkdir(parents=True, exist_ok=True)
    stale = f".{name.segment_id}.parquet.tmp-"
    for filename in list_names(partition):
        if filename.startswith(stale):  # left by a compaction of this segment that was killed
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partition / filename)
    temp = partition / f"{stale}{uuid.uuid4().hex}"
    try:
        with open(temp, "wb") as file:
            pq.write_table(
                table,
                file,
                compression="zstd",
                row_group_size=ROW_GROUP_ROWS,
                write_statistics=True,
            )
            file.flush()
            os.fsync(file.fileno())
        os.rename(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_dir(partition)


def _remove_if_unlocked(path: Path) -> None:
    """A segment's creator died between creating it and renaming it into place."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if _lock(fd) and _still_linked(fd, path):
            os.unlink(path)
    finally:
        os.close(fd)


def _lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _still_linked(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
