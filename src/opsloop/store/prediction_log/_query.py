"""Queries: DuckDB over the Parquet files plus the whole lines of hot segments.

Each query starts from a snapshot. The segments are listed first and the Parquet files second, so
a segment compacted while we list is found in one form or the other, never in neither; a segment
whose Parquet file is listed is skipped, so it is never counted twice. A listed segment that is
gone when we open it was compacted meanwhile: compaction renames the Parquet file into place
before it deletes the segment, so we read that file instead (an empty segment leaves none).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from opsloop.store.prediction_log._layout import (
    INPUT_PREFIX,
    SegmentName,
    list_endpoints,
    list_parquet,
    list_segments,
    parquet_path,
    segments_dir,
)
from opsloop.store.prediction_log._records import (
    FEEDBACK_FIELDS,
    PREDICTION_FIELDS,
    TIME,
    normal,
    request_ids,
    to_table,
    unify,
)
from opsloop.store.prediction_log._segments import read_complete

if TYPE_CHECKING:
    import duckdb

_IN_LIST = 1000  # ids per lookup query
_FEEDBACK_SLACK = dt.timedelta(days=1)  # feedback recorded up to a day "before" its prediction
_LABEL_COLUMNS = (
    "f.label AS label, f.time AS label_time, f.source AS label_source, f.actor AS label_actor"
)
_FILTERS = {"since": "time >= $since", "until": "time < $until", "role": "role = $role"}
_SQL_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    TIME: "TIMESTAMPTZ",
}


@dataclass
class _Source:
    """A FROM item and the Arrow schema of what it reads."""

    sql: str
    schema: pa.Schema


@dataclass
class _Snapshot:
    root: Path
    parquet: list[Path]
    hot: list[SegmentName]

    def read(self, name: SegmentName, offset: int = 0) -> tuple[bytes, int] | None:
        """Whole lines of a hot segment, or None once it is compacted (its file is added)."""
        try:
            return read_complete(segments_dir(self.root) / name.filename, offset)
        except FileNotFoundError:
            compacted = parquet_path(self.root, name)
            if compacted.exists():
                self.parquet.append(compacted)
            return None


class Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._db: duckdb.DuckDBPyConnection | None = None
        self._schemas: dict[Path, pa.Schema] = {}
        self._hot_ids: dict[tuple[str, str], tuple[int, int, set[str]]] = {}

    def endpoints(self) -> list[str]:
        return sorted(list_endpoints(self.root))

    def count(self, endpoint: str) -> int:
        snapshot = self._snapshot("predictions", endpoint, None, None)
        hot = 0
        for name in snapshot.hot:
            read = snapshot.read(name)
            hot += read[0].count(b"\n") if read else 0
        if not snapshot.parquet:
            return hot
        rows = self._rows("SELECT count(*) FROM read_parquet($files)", files=snapshot.parquet)
        return hot + int(rows[0][0])

    def count_labelled(self, endpoint: str) -> int:
        """How many of the endpoint's predictions have a label. Feedback is only stored for
        logged predictions and a label is never null, so this counts the distinct request ids
        of the feedback files, without reading a prediction."""
        params: dict[str, Any] = {}
        cursor = self._cursor()
        try:
            sources = self._sources(
                cursor, "f", *self._load("feedback", endpoint, None, None), params
            )
            if not sources:
                return 0
            union = " UNION ALL ".join(f"SELECT request_id FROM {s.sql}" for s in sources)
            query = f"SELECT count(DISTINCT request_id) FROM ({union})"
            row = cursor.execute(query, params).fetchone()
        finally:
            cursor.close()
        return int(row[0]) if row else 0

    def labelled_since(
        self, endpoint: str, received_after: dt.datetime, predicted_after: dt.datetime | None
    ) -> dt.datetime | None:
        """The earliest time of a prediction (logged after ``predicted_after``) given a label
        at or after ``received_after``: where labels that came late start."""
        received = _in_utc(received_after)
        predicted_after = _utc(predicted_after)
        feedback = self._load("feedback", endpoint, received.date().isoformat(), None)
        first = predicted_after.date().isoformat() if predicted_after else None
        params: dict[str, Any] = {"after": received}
        where = "TRUE"
        if predicted_after is not None:
            params["since"], where = predicted_after, _FILTERS["since"]
        cursor = self._cursor()
        try:
            f_sources = self._sources(cursor, "f", *feedback, params)
            if not f_sources:
                return None
            p_sources = self._sources(
                cursor, "p", *self._load("predictions", endpoint, first, None), params
            )
            if not p_sources:
                return None
            labelled = _union(f_sources, ["request_id"], FEEDBACK_FIELDS, "time >= $after")
            logged = _union(p_sources, ["request_id", "time"], PREDICTION_FIELDS, where)
            row = cursor.execute(
                f"WITH f AS ({labelled}), p AS ({logged}) SELECT epoch(min(p.time)) FROM p"
                " WHERE p.request_id IN (SELECT request_id FROM f)",
                params,
            ).fetchone()
        finally:
            cursor.close()
        # Epoch seconds out of DuckDB: a TIMESTAMPTZ would need pytz to become a datetime.
        return None if row is None or row[0] is None else dt.datetime.fromtimestamp(row[0], dt.UTC)

    def label_delays(self, endpoint: str, since: dt.datetime, until: dt.datetime) -> list[float]:
        """Seconds from each served (not shadow) prediction made in ``[since, until)`` to its
        latest label, for those that have one. Only ids and times are read: no inputs,
        answers or labels."""
        since, until = _in_utc(since), _in_utc(until)
        predictions = self._load(
            "predictions", endpoint, since.date().isoformat(), until.date().isoformat()
        )
        feedback_first = (since - _FEEDBACK_SLACK).date().isoformat()
        feedback = self._load("feedback", endpoint, feedback_first, None)
        params: dict[str, Any] = {"since": since, "until": until}
        where = f"{_FILTERS['since']} AND {_FILTERS['until']} AND role <> 'shadow'"
        cursor = self._cursor()
        try:
            p_sources = self._sources(cursor, "p", *predictions, params)
            f_sources = self._sources(cursor, "f", *feedback, params)
            if not p_sources or not f_sources:
                return []
            logged = _union(p_sources, ["request_id", "time", "role"], PREDICTION_FIELDS, where)
            latest = _latest_feedback(f_sources, ["request_id", "time"])
            rows = cursor.execute(
                f"WITH p AS ({logged}), f AS ({latest})"
                " SELECT epoch(f.time) - epoch(p.time) FROM p JOIN f USING (request_id)",
                params,
            ).fetchall()
        finally:
            cursor.close()
        return [float(row[0]) for row in rows]

    def find_prediction_ids(self, endpoint: str, ids: Iterable[str]) -> set[str]:
        wanted = {value for value in ids if isinstance(value, str)}
        if not wanted:
            return set()
        snapshot = self._snapshot("predictions", endpoint, None, None)
        found = {value for name in snapshot.hot for value in self._ids_in(snapshot, name, wanted)}
        with self._lock:  # forget segments compacted since
            live = {(endpoint, name.segment_id) for name in snapshot.hot}
            for key in [key for key in self._hot_ids if key[0] == endpoint and key not in live]:
                del self._hot_ids[key]
        rest = sorted(wanted - found)
        if snapshot.parquet and rest:
            found.update(self._ids_in_parquet(snapshot.parquet, rest))
        return found

    def _ids_in_parquet(self, files: list[Path], ids: list[str]) -> set[str]:
        if len(ids) > 2 * _IN_LIST:
            # Many ids: one semi-join; the range still skips row groups outside it.
            query = (
                "SELECT DISTINCT request_id FROM read_parquet($files)"
                " WHERE request_id BETWEEN $low AND $high AND request_id IN (SELECT unnest($ids))"
            )
            return {
                row[0] for row in self._rows(query, files=files, low=ids[0], high=ids[-1], ids=ids)
            }
        found: set[str] = set()
        for start in range(0, len(ids), _IN_LIST):
            # An IN list of constants reaches the Parquet scan: DuckDB skips every row group whose
            # min/max request id brackets none of them.
            chunk = {f"i{n}": value for n, value in enumerate(ids[start : start + _IN_LIST])}
            markers = ", ".join(f"${name}" for name in chunk)
            query = (
                "SELECT DISTINCT request_id FROM read_parquet($files)"
                f" WHERE request_id IN ({markers})"
            )
            found.update(row[0] for row in self._rows(query, files=files, **chunk))
        return found

    def export(
        self,
        endpoint: str,
        *,
        since: dt.datetime | None,
        until: dt.datetime | None,
        role: str | None,
        with_inputs: bool,
        labelled_only: bool = False,
    ) -> pa.Table:
        since, until = _utc(since), _utc(until)
        first = since.date().isoformat() if since else None
        last = until.date().isoformat() if until else None
        predictions = self._load("predictions", endpoint, first, last)
        feedback_first = (since - _FEEDBACK_SLACK).date().isoformat() if since else None
        feedback = self._load("feedback", endpoint, feedback_first, None)
        bounds = {"since": since, "until": until, "role": role}
        params = {name: value for name, value in bounds.items() if value is not None}
        where = " AND ".join(_FILTERS[name] for name in params) or "TRUE"
        cursor = self._cursor()
        try:
            p_sources = self._sources(cursor, "p", *predictions, params)
            if not p_sources:
                return _empty()
            names = list(PREDICTION_FIELDS)
            if with_inputs:
                inputs = (
                    n for s in p_sources for n in s.schema.names if n.startswith(INPUT_PREFIX)
                )
                names.extend(dict.fromkeys(inputs))
            f_sources = self._sources(cursor, "f", *feedback, params)
            join = (
                "JOIN f ON p.request_id = f.request_id WHERE f.label IS NOT NULL"
                if labelled_only
                else "LEFT JOIN f ON p.request_id = f.request_id"
            )
            sql = (
                f"WITH p AS ({_union(p_sources, names, PREDICTION_FIELDS, where)}),"
                f" f AS ({_latest_feedback(f_sources)})"
                f" SELECT p.*, {_LABEL_COLUMNS} FROM p {join} ORDER BY p.time, p.request_id"
            )
            table = cursor.sql(sql, params=params).to_arrow_table()
        finally:
            cursor.close()
        return _finish(table)

    def _sources(
        self,
        cursor: duckdb.DuckDBPyConnection,
        prefix: str,
        files: list[Path],
        hot: pa.Table | None,
        params: dict[str, Any],
    ) -> list[_Source]:
        """One source per distinct file schema (usually one), plus the hot rows."""
        groups: dict[pa.Schema, list[str]] = {}
        for path in files:
            groups.setdefault(self._schema(path), []).append(str(path))
        sources = []
        for number, (schema, paths) in enumerate(groups.items()):
            params[f"{prefix}{number}"] = paths
            sources.append(_Source(f"read_parquet(${prefix}{number})", schema))
        if hot is not None:
            cursor.register(f"hot_{prefix}", hot)
            sources.append(_Source(f"hot_{prefix}", hot.schema))
        return sources

    def _load(
        self, kind: str, endpoint: str, first: str | None, last: str | None
    ) -> tuple[list[Path], pa.Table | None]:
        snapshot = self._snapshot(kind, endpoint, first, last)
        reads = [snapshot.read(name) for name in snapshot.hot]
        # Whole lines of every segment make one JSON-lines document: parsed at once.
        return snapshot.parquet, to_table(kind, b"".join(read[0] for read in reads if read))

    def _snapshot(self, kind: str, endpoint: str, first: str | None, last: str | None) -> _Snapshot:
        names = [
            name
            for name in list_segments(self.root)
            if name.kind == kind
            and name.endpoint == endpoint
            and (first is None or name.date >= first)
            and (last is None or name.date <= last)
        ]
        parquet = list_parquet(self.root, kind, endpoint, first, last)
        hot = [name for name in names if name.segment_id not in parquet]
        return _Snapshot(self.root, sorted(parquet.values()), hot)

    def _ids_in(self, snapshot: _Snapshot, name: SegmentName, wanted: set[str]) -> set[str]:
        """Request ids of a hot segment, read incrementally: a server asks again and again."""
        key = (name.endpoint, name.segment_id)
        with self._lock:
            inode, offset, ids = self._hot_ids.get(key, (-1, 0, set()))
            read = snapshot.read(name, offset)
            if read is not None and offset and read[1] != inode:  # not the file read before
                read = snapshot.read(name)
                offset, ids = 0, set()
            if read is None:
                self._hot_ids.pop(key, None)  # compacted: its ids are in Parquet now
                return set()
            ids.update(request_ids(read[0]))
            self._hot_ids[key] = (read[1], offset + len(read[0]), ids)
            return wanted & ids

    def _schema(self, path: Path) -> pa.Schema:
        schema = self._schemas.get(path)
        if schema is None:
            schema = self._schemas[path] = pq.read_schema(path)
        return schema

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own for one query, sharing the cache of Parquet footers."""
        with self._lock:
            if self._db is None:
                import duckdb

                self._db = duckdb.connect()
                self._db.execute("SET GLOBAL parquet_metadata_cache = true")
            return self._db.cursor()

    def _rows(self, query: str, *, files: Sequence[Path], **params: Any) -> list[tuple[Any, ...]]:
        cursor = self._cursor()
        try:
            return cursor.sql(query, params={"files": [str(f) for f in files], **params}).fetchall()
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _union(sources: list[_Source], names: list[str], fixed: dict[str, Any], where: str) -> str:
    """A UNION ALL of the sources, each cast to the one type a column has across all of them."""
    sql_types = {}
    for name in names:
        unified = unify([s.schema.field(name).type for s in sources if name in s.schema.names])
        if pa.types.is_null(unified) and isinstance(fixed.get(name), pa.DataType):
            unified = fixed[name]
        sql_types[name] = _SQL_TYPES.get(unified, "VARCHAR")  # JSON text for anything else
    selects = []
    for source in sources:
        columns = []
        for name in names:
            value = "NULL"
            if name in source.schema.names:
                value = _quote(name)
                if pa.types.is_nested(source.schema.field(name).type):
                    value = f"to_json({value})"
            columns.append(f"CAST({value} AS {sql_types[name]}) AS {_quote(name)}")
        selects.append(f"SELECT {', '.join(columns)} FROM {source.sql} WHERE {where}")
    return " UNION ALL ".join(selects)


def _latest_feedback(sources: list[_Source], names: list[str] | None = None) -> str:
    """The latest feedback per request id, its ``names`` (default: every field); none at
    all: an empty relation of the same shape."""
    names = list(FEEDBACK_FIELDS) if names is None else names
    if not sources:
        types = {n: _SQL_TYPES.get(FEEDBACK_FIELDS[n], "VARCHAR") for n in names}
        nulls = ", ".join(f"CAST(NULL AS {types[n]}) AS {_quote(n)}" for n in names)
        return f"SELECT {nulls} WHERE FALSE"
    return (
        f"SELECT * FROM ({_union(sources, names, FEEDBACK_FIELDS, 'TRUE')})"
        " QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY time DESC) = 1"
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else _in_utc(moment)


def _in_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)  # naive times are UTC, as the log stores them
    return moment.astimezone(dt.UTC)


def _finish(table: pa.Table) -> pa.Table:
    fields = []
    for field in table.schema:
        type_ = TIME if pa.types.is_timestamp(field.type) else normal(field.type)
        fields.append(pa.field(field.name, type_))
    return table.cast(pa.schema(fields))


def _empty() -> pa.Table:
    fields = [
        (name, prefer if isinstance(prefer, pa.DataType) else pa.string())
        for name, prefer in PREDICTION_FIELDS.items()
    ]
    fields += [("label", pa.string()), ("label_time", TIME)]
    fields += [("label_source", pa.string()), ("label_actor", pa.string())]
    return pa.schema(fields).empty_table()
