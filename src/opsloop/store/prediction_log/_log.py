"""The prediction log: durable appends from servers, analytic reads from anyone.

See ``docs/prediction-log.md`` for the file layout, the durability guarantee and how readers
race the compactor safely.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsloop.store.prediction_log._segments import SegmentWriter

if TYPE_CHECKING:
    import pyarrow as pa

    from opsloop.store.prediction_log._query import Reader

log = logging.getLogger(__name__)


class PredictionLog:
    """Append-only log of predictions and their feedback under one directory.

    Several processes may write the same ``root`` (each to its own segments) and any number may
    read it. Nothing is created, and no thread started, until the first append.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fsync: bool = False,
        segment_bytes: int = 64 * 2**20,
        segment_age_s: float = 300.0,
        background: bool = True,
    ) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self.segment_age_s = segment_age_s
        self.background = background
        self._lock = threading.Lock()
        self._writer: SegmentWriter | None = None
        self._reader: Reader | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._closed = False

    def append_predictions(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Log a batch; on return it survives a kill -9 of this process (and, with ``fsync``,
        a machine crash) and every reader sees it."""
        if records:
            self._writer_started().append("predictions", _objects_as_text(records, "prediction"))

    def append_feedback(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Log labels; a label that is an object (a ranking's ``{item: grade}``) is kept as
        its JSON text, as queries give every list and object back."""
        if records:
            self._writer_started().append("feedback", _objects_as_text(records, "label"))

    def compact(self) -> int:
        """Seal this writer's segments and compact every sealed or orphaned one; return how many."""
        from opsloop.store.prediction_log._compact import compact_all

        if self._writer is not None:
            self._writer.seal_all()
        return compact_all(self.root)

    def find_prediction_ids(self, endpoint: str, ids: Sequence[str]) -> set[str]:
        """The subset of ``ids`` logged as predictions of ``endpoint``."""
        return self._reader_started().find_prediction_ids(endpoint, ids)

    def export(
        self,
        endpoint: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        role: str | None = None,
        with_inputs: bool = True,
        labelled_only: bool = False,
    ) -> pa.Table:
        """Predictions in ``[since, until)`` with their latest feedback, ordered by time;
        ``labelled_only``: only those that have feedback.

        Naive datetimes are taken as UTC.
        """
        return self._reader_started().export(
            endpoint,
            since=since,
            until=until,
            role=role,
            with_inputs=with_inputs,
            labelled_only=labelled_only,
        )

    def label_delays(self, endpoint: str, since: datetime, until: datetime) -> list[float]:
        """Seconds from each served (not shadow) prediction made in ``[since, until)`` to its
        latest label, for those that have one."""
        return self._reader_started().label_delays(endpoint, since, until)

    def labelled_since(
        self,
        endpoint: str,
        received_after: datetime,
        predicted_after: datetime | None = None,
    ) -> datetime | None:
        """The earliest time of a prediction (logged after ``predicted_after``) that was given
        a label at or after ``received_after``; None when no such label came."""
        return self._reader_started().labelled_since(endpoint, received_after, predicted_after)

    def count(self, endpoint: str) -> int:
        return self._reader_started().count(endpoint)

    def count_labelled(self, endpoint: str) -> int:
        """How many of the endpoint's predictions have a label (from the feedback alone)."""
        return self._reader_started().count_labelled(endpoint)

    def endpoints(self) -> list[str]:
        return self._reader_started().endpoints()

    def close(self) -> None:
        """Stop the background thread and seal the active segments (they are compacted later)."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._wake.set()
        if thread is not None:
            thread.join()
        if self._writer is not None:
            self._writer.seal_all(close=True)
        if self._reader is not None:
            self._reader.close()

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _writer_started(self) -> SegmentWriter:
        writer = self._writer
        if writer is not None:
            return writer
        with self._lock:
            if self._closed:
                raise RuntimeError("the prediction log is closed")
            if self._writer is None:
                self._writer = SegmentWriter(
                    self.root,
                    fsync=self.fsync,
                    segment_bytes=self.segment_bytes,
                    segment_age_s=self.segment_age_s,
                    on_seal=self._wake.set,
                )
                if self.background:
                    self._thread = threading.Thread(
                        target=self._run, name="opsloop-prediction-log", daemon=True
                    )
                    self._thread.start()
            return self._writer

    def _reader_started(self) -> Reader:
        if self._reader is None:
            from opsloop.store.prediction_log._query import Reader

            with self._lock:
                if self._reader is None:
                    self._reader = Reader(self.root)
        return self._reader

    def _run(self) -> None:
        """Seal segments that are old enough and compact what can be, until closed.

        The first pass runs at once, so segments orphaned by a dead writer are compacted when a
        new writer starts.
        """
        from opsloop.store.prediction_log._compact import compact_all

        interval = max(0.05, min(5.0, self.segment_age_s / 4))
        writer = self._writer
        assert writer is not None
        while not self._closed:
            try:
                writer.seal_aged()
                compact_all(self.root)
            except Exception:
                log.exception("prediction log compaction failed; retrying in %.1f s", interval)
            self._wake.wait(interval)
            self._wake.clear()


def _objects_as_text(
    records: Sequence[Mapping[str, Any]], name: str
) -> Sequence[Mapping[str, Any]]:
    """The records with an object under ``name`` written as its JSON text. Read as an object,
    each record's keys would become columns of their own: a ranking's grades, keyed by item
    id, would make one column per item ever graded."""
    if not any(type(record.get(name)) is dict for record in records):
        return records
    import orjson

    return [
        {**record, name: orjson.dumps(record[name], option=orjson.OPT_SERIALIZE_NUMPY).decode()}
        if type(record.get(name)) is dict
        else record
        for record in records
    ]
