"""Hot segments: JSON lines appended with one ``os.write`` per batch, optionally group-fsynced.

A writer owns its segments: it creates each under a temp name, takes an exclusive ``flock`` on it
and only then renames it into place, so a segment whose lock can be taken is never being written
(sealed, or orphaned by a dead writer) and may be compacted by anyone.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

import orjson

from opsloop.domain.errors import InvalidInput
from opsloop.store.prediction_log._layout import (
    SegmentName,
    day_to_date,
    fsync_dir,
    segments_dir,
)

_DUMPS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY


def encode_batch(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, int], bytes]:
    """The batch as JSON lines, one buffer per (endpoint, UTC day); nothing is written on error."""
    dumps, isfinite = orjson.dumps, math.isfinite
    groups: dict[tuple[str, int], list[bytes]] = {}
    lines: list[bytes] = []
    endpoint_now: object = None
    low = high = 0.0
    for record in records:
        if type(record) is not dict:
            record = dict(record)
        endpoint, at = record.get("endpoint"), record.get("time")
        # Fast path: the same endpoint and day as the record before (nearly always).
        if endpoint is not endpoint_now or not (type(at) is float and low <= at < high):
            if not isinstance(endpoint, str) or not endpoint:
                raise InvalidInput("endpoint must be a non-empty string", field="endpoint")
            if isinstance(at, bool) or not isinstance(at, Real) or not isfinite(at):
                raise InvalidInput("time must be a finite number of epoch seconds", field="time")
            day = math.floor(float(at) / 86400)
            endpoint_now, low, high = endpoint, day * 86400.0, (day + 1) * 86400.0
            lines = groups.setdefault((endpoint, day), [])
        if not isinstance(record.get("request_id"), str):
            raise InvalidInput("request_id must be a string", field="request_id")
        try:
            lines.append(dumps(record, option=_DUMPS))
        except TypeError:
            field = _unserialisable_field(record)
            raise InvalidInput(f"{field} is not JSON-serialisable", field=field) from None
    return {key: b"".join(group) for key, group in groups.items()}


def _unserialisable_field(record: Mapping[Any, Any], prefix: str = "") -> str:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if not isinstance(key, str):
            return name
        try:
            orjson.dumps(value, option=_DUMPS)
        except TypeError:
            if isinstance(value, Mapping):
                return _unserialisable_field(value, f"{name}.")
            return name
    return prefix.rstrip(".") or "record"


def read_complete(path: Path, offset: int = 0) -> tuple[bytes, int]:
    """The whole lines of a segment from ``offset`` on, and the file's inode.

    A writer may be half way through a write, or have died in one: bytes after the last newline
    are not a record yet. Raises FileNotFoundError if the segment was compacted away.
    """
    with open(path, "rb", buffering=0) as file:
        inode = os.fstat(file.fileno()).st_ino
        file.seek(offset)
        data = file.read()
    return whole_lines(data), inode


def whole_lines(data: bytes) -> bytes:
    """``data`` up to its last newline: a torn last line never had its append return."""
    return data[: data.rfind(b"\n") + 1]


class Segment:
    def __init__(self, name: SegmentName, path: Path, fd: int) -> None:
        self.name = name
        self.path = path
        self.fd = fd
        self.size = 0
        self.opened = time.monotonic()
        self.closed = False
        self.lock = threading.Lock()

    def write(self, data: bytes) -> bool:
        """Append ``data`` in one write; False if the segment was sealed meanwhile."""
        with self.lock:
            if self.closed:
                return False
            view = memoryview(data)
            try:
                while view:  # one write unless the disk is full or a signal lands
                    view = view[os.write(self.fd, view) :]
            except BaseException:
                # A torn line must stay the last one: seal the segment rather than append after it.
                with contextlib.suppress(OSError):
                    self._close(fsync=False)
                raise
            self.size += len(data)
            return True

    def sync(self) -> None:
        with self.lock:
            if self.closed:
                return  # sealing fsynced it
            fd = os.dup(self.fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def seal(self, *, fsync: bool) -> None:
        with self.lock:
            if not self.closed:
                self._close(fsync=fsync)

    def _close(self, *, fsync: bool) -> None:
        self.closed = True
        try:
            if fsync:
                os.fsync(self.fd)
        finally:
            os.close(self.fd)  # releases the flock: the segment may now be compacted


class GroupCommit:
    """Concurrent appenders share fsyncs: one leader syncs every segment written so far."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._written = 0
        self._synced = 0
        self._syncing = False
        self._dirty: dict[int, Segment] = {}
        self._failed: tuple[int, BaseException] | None = None

    def wrote(self, segment: Segment) -> int:
        """Record a finished write; the returned ticket is passed to :meth:`wait`."""
        with self._cond:
            self._written += 1
            self._dirty[id(segment)] = segment
            return self._written

    def wait(self, ticket: int) -> None:
        """Return once an fsync that started after write ``ticket`` has finished."""
        with self._cond:
            while self._synced < ticket:
                if self._failed is not None and ticket <= self._failed[0]:
                    raise OSError("fsync of the prediction log failed") from self._failed[1]
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target = self._written
                dirty = list(self._dirty.values())
                self._dirty.clear()
                self._cond.release()
                error: BaseException | None = None
                try:
                    for segment in dirty:
                        segment.sync()
                except BaseException as exc:
                    error = exc
                finally:
                    self._cond.acquire()
                self._syncing = False
                if error is None:
                    self._synced = target
                else:
                    self._failed = (target, error)
                self._cond.notify_all()
                if error is not None:
                    raise error


class SegmentWriter:
    """This process's active segments, one per (kind, endpoint, UTC day)."""

    def __init__(
        self,
        root: Path,
        *,
        fsync: bool,
        segment_bytes: int,
        segment_age_s: float,
        on_seal: Callable[[], None] = lambda: None,
    ) -> None:
        self.root = root
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self.segment_age_s = segment_age_s
        self.writer_id = uuid.uuid4().hex[:12]
        self._on_seal = on_seal
        self._seq = 0
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str, int], Segment] = {}
        self._group = GroupCommit() if fsync else None
        self._closed = False

    def append(self, kind: str, records: Sequence[Mapping[str, Any]]) -> None:
        tickets = []
        for (endpoint, day), data in encode_batch(records).items():
            while True:
                segment = self._segment_for(kind, endpoint, day)
                if segment.write(data):
                    break
            if self._group is not None:
                tickets.append(self._group.wrote(segment))
        if self._group is not None and tickets:
            self._group.wait(max(tickets))

    def seal_aged(self) -> None:
        now = time.monotonic()
        with self._lock:
            aged = [key for key, seg in self._active.items() if self._due(seg, now)]
            stale = [self._active.pop(key) for key in aged]
        self._seal(stale)

    def seal_all(self, *, close: bool = False) -> None:
        with self._lock:
            self._closed = self._closed or close
            stale = list(self._active.values())
            self._active.clear()
        self._seal(stale)

    def _due(self, segment: Segment, now: float) -> bool:
        return (
            segment.closed
            or segment.size >= self.segment_bytes
            or now - segment.opened >= self.segment_age_s
        )

    def _segment_for(self, kind: str, endpoint: str, day: int) -> Segment:
        key = (kind, endpoint, day)
        stale = []
        with self._lock:
            if self._closed:
                raise RuntimeError("the prediction log is closed")
            segment = self._active.get(key)
            if segment is not None and self._due(segment, time.monotonic()):
                stale.append(self._active.pop(key))
                segment = None
            if segment is None:
                segment = self._active[key] = self._create(kind, endpoint, day)
        self._seal(stale)
        return segment

    def _seal(self, segments: list[Segment]) -> None:
        for segment in segments:
            segment.seal(fsync=self.fsync)
        if segments:
            self._on_seal()

    def _create(self, kind: str, endpoint: str, day: int) -> Segment:
        directory = segments_dir(self.root)
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            if self.fsync:
                fsync_dir(self.root)
        while True:
            self._seq += 1
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            segment_id = f"{stamp}-{self.writer_id}-{self._seq:06d}"
            name = SegmentName(kind, segment_id, day_to_date(day), endpoint)
            path = directory / name.filename
            temp = directory / f".{name.filename}.new"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
            fd = os.open(temp, flags, 0o644)
            try:
                # Locked before it is visible; a compactor sweeping stray temp files may have
                # taken or removed it in between, in which case we try a new name.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.rename(temp, path)
            except (BlockingIOError, FileNotFoundError):
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            if self.fsync:
                fsync_dir(directory)
            return Segment(name, path, fd)
