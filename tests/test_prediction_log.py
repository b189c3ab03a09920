"""The durable prediction log: what a server, a second replica and a CLI reader rely on."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.store.prediction_log import PredictionLog, _query

from ._prediction_log_writer import BASE_TIME, ENDPOINT, prediction

WRITER = Path(__file__).with_name("_prediction_log_writer.py")
DAY = 86400.0
FIXED_COLUMNS = [
    "request_id",
    "time",
    "endpoint",
    "project",
    "model",
    "version",
    "role",
    "deployment",
    "prediction",
    "score",
    "scores",
    "latency_ms",
]
LABEL_COLUMNS = ["label", "label_time", "label_source", "label_actor"]


def feedback(request_id: str, label: Any, *, at: float, source: str = "user") -> dict[str, Any]:
    return {
        "request_id": request_id,
        "time": at,
        "endpoint": ENDPOINT,
        "label": label,
        "source": source,
        "actor": f"{source}-1",
    }


def batch(prefix: str, size: int, *, at: float = BASE_TIME) -> list[dict[str, Any]]:
    return [prediction(f"{prefix}-{i:04d}", at=at + i) for i in range(size)]


def exported_ids(log: PredictionLog, **options: Any) -> list[str]:
    return log.export(ENDPOINT, with_inputs=False, **options).column("request_id").to_pylist()


def segment_files(root: Path) -> list[Path]:
    return sorted((root / "segments").glob("*.jsonl"))


def parquet_files(root: Path) -> list[Path]:
    return sorted(root.glob("*/endpoint=*/date=*/*.parquet"))


def hidden_files(root: Path) -> list[Path]:
    return [path for path in root.rglob(".*") if path.is_file()]


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.fixture
def log(tmp_path: Path) -> Any:
    with PredictionLog(tmp_path / "log", background=False) as opened:
        yield opened


@pytest.mark.parametrize("compacted", [False, True], ids=["segments", "parquet"])
def test_round_trip_keeps_columns_types_and_values(log: PredictionLog, compacted: bool) -> None:
    log.append_predictions([prediction("r1", at=BASE_TIME + 0.25), prediction("r2", score=None)])
    if compacted:
        assert log.compact() == 1
    table = log.export(ENDPOINT)
    inputs = ["input.length", "input.ratio", "input.lang", "input.flagged"]
    assert table.column_names == [*FIXED_COLUMNS, *inputs, *LABEL_COLUMNS]
    types = dict(zip(table.column_names, table.schema.types, strict=True))
    assert types["time"] == pa.timestamp("us", tz="UTC")
    assert types["label_time"] == pa.timestamp("us", tz="UTC")
    assert (types["version"], types["deployment"], types["prediction"]) == (pa.int64(),) * 3
    assert (types["score"], types["latency_ms"], types["input.ratio"]) == (pa.float64(),) * 3
    assert (types["input.length"], types["input.flagged"]) == (pa.int64(), pa.bool_())
    assert (types["scores"], types["input.lang"]) == (pa.string(), pa.string())
    first, second = table.to_pylist()
    assert first["request_id"] == "r2" and second["request_id"] == "r1"  # ordered by time
    assert second["time"] == utc(BASE_TIME + 0.25)
    assert json.loads(second["scores"]) == {"0": 0.09, "1": 0.91}
    assert (second["score"], first["score"], second["input.lang"]) == (0.91, None, "en")
    assert second["label"] is None and second["label_time"] is None
    assert log.count(ENDPOINT) == 2
    assert log.endpoints() == [ENDPOINT]


def test_labelled_predictions_are_counted_from_the_feedback_alone(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, background=False) as log:
        assert log.count_labelled(ENDPOINT) == 0
        log.append_predictions(batch("p", 4))
        log.append_feedback([feedback("p-0000", 1, at=BASE_TIME + 60)])
        log.compact()  # one label in Parquet ...
        log.append_feedback(  # ... relabels and a new label still hot
            [feedback("p-0000", 0, at=BASE_TIME + 70), feedback("p-0002", 1, at=BASE_TIME + 80)]
        )
        table = log.export(ENDPOINT)
        expected = table.num_rows - table.column("label").null_count
        assert log.count_labelled(ENDPOINT) == expected == 2


@pytest.mark.parametrize("compacted", [False, True], ids=["segments", "parquet"])
def test_where_labels_received_after_a_time_start(tmp_path: Path, compacted: bool) -> None:
    with PredictionLog(tmp_path, background=False) as log:
        assert log.labelled_since(ENDPOINT, utc(BASE_TIME)) is None  # nothing logged
        log.append_predictions(batch("p", 10))  # at BASE_TIME + 0 .. 9
        log.append_feedback([feedback("p-0001", 1, at=BASE_TIME + 100)])
        log.append_feedback([feedback("p-0007", 1, at=BASE_TIME + 200)])
        log.append_feedback([feedback("p-0004", 0, at=BASE_TIME + 300)])
        if compacted:
            log.compact()
        assert log.labelled_since(ENDPOINT, utc(BASE_TIME + 100)) == utc(BASE_TIME + 1)
        assert log.labelled_since(ENDPOINT, utc(BASE_TIME + 150)) == utc(BASE_TIME + 4)
        assert log.labelled_since(ENDPOINT, utc(BASE_TIME + 300)) == utc(BASE_TIME + 4)
        assert log.labelled_since(ENDPOINT, utc(BASE_TIME + 301)) is None
        # Only predictions logged after a time: the older label is left out.
        assert log.labelled_since(
            ENDPOINT, utc(BASE_TIME), predicted_after=utc(BASE_TIME + 5)
        ) == utc(BASE_TIME + 7)


def test_an_empty_log_exports_the_fixed_columns(tmp_path: Path) -> None:
    with PredictionLog(tmp_path / "never-written", background=False) as empty:
        table = empty.export(ENDPOINT)
        assert table.num_rows == 0
        assert table.column_names == [*FIXED_COLUMNS, *LABEL_COLUMNS]
        assert empty.count(ENDPOINT) == 0
        assert empty.endpoints() == []
        assert empty.find_prediction_ids(ENDPOINT, ["x"]) == set()


def test_opening_creates_nothing_until_the_first_append(tmp_path: Path) -> None:
    root = tmp_path / "log"
    threads = threading.active_count()
    opened = PredictionLog(root)
    assert opened.count(ENDPOINT) == 0
    assert not root.exists() and threading.active_count() == threads
    opened.append_predictions(batch("a", 1))
    assert threading.active_count() == threads + 1  # the compactor
    opened.close()
    assert threading.active_count() == threads
    with pytest.raises(RuntimeError):
        opened.append_predictions(batch("b", 1))


def test_importing_loads_neither_duckdb_nor_pyarrow() -> None:
    code = (
        "import sys, opsloop.store.prediction_log\n"
        "print(sorted(m for m in ('duckdb', 'pyarrow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("compacted", [False, True], ids=["segments", "parquet"])
def test_the_latest_feedback_by_time_wins(log: PredictionLog, compacted: bool) -> None:
    log.append_predictions(batch("r", 3))
    # Written out of time order: the later label must win, not the last written.
    log.append_feedback([feedback("r-0001", 0, at=BASE_TIME + 100, source="reviewer")])
    log.append_feedback([feedback("r-0001", 1, at=BASE_TIME + 50)])
    log.append_feedback([feedback("r-0002", 1, at=BASE_TIME + 10), feedback("ghost", 1, at=0.0)])
    if compacted:
        log.compact()
    rows = {row["request_id"]: row for row in log.export(ENDPOINT).to_pylist()}
    assert set(rows) == {"r-0000", "r-0001", "r-0002"}  # feedback alone is not a prediction
    assert rows["r-0000"]["label"] is None
    assert rows["r-0001"]["label"] == 0
    assert rows["r-0001"]["label_source"] == "reviewer"
    assert rows["r-0001"]["label_actor"] == "reviewer-1"
    assert rows["r-0001"]["label_time"] == utc(BASE_TIME + 100)
    assert rows["r-0002"]["label"] == 1
    assert log.count(ENDPOINT) == 3


@pytest.mark.parametrize("compacted", [False, True], ids=["segments", "parquet"])
def test_label_delays_read_only_times_and_match_the_export(
    log: PredictionLog, compacted: bool
) -> None:
    log.append_predictions(
        [
            prediction("a", at=BASE_TIME),
            prediction("b", at=BASE_TIME + 10),
            prediction("s", at=BASE_TIME + 20, role="shadow"),  # never served: not counted
            prediction("late", at=BASE_TIME + 5 * DAY),  # after the period
            prediction("none", at=BASE_TIME + 30),  # no label
        ]
    )
    log.append_feedback(
        [
            feedback("a", 1, at=BASE_TIME + 60),
            feedback("a", 0, at=BASE_TIME + 600),  # the latest label is the one that counts
            feedback("b", [318, 50], at=BASE_TIME + 40),  # a ranking's label: times only
            feedback("s", 1, at=BASE_TIME + 25),
            feedback("late", 1, at=BASE_TIME + 5 * DAY + 1),
        ]
    )
    if compacted:
        log.compact()
    since, until = utc(BASE_TIME - 1), utc(BASE_TIME + DAY)
    assert sorted(log.label_delays(ENDPOINT, since, until)) == [30.0, 600.0]
    exported = log.export(ENDPOINT, since=since, until=until, labelled_only=True).to_pylist()
    served = [r for r in exported if r["role"] != "shadow"]
    assert sorted((r["label_time"] - r["time"]).total_seconds() for r in served) == [30.0, 600.0]
    assert log.label_delays("elsewhere", since, until) == []


def test_since_until_and_role_filter_and_prune_days(log: PredictionLog) -> None:
    log.append_predictions(
        [
            prediction("d0", at=BASE_TIME - DAY),
            prediction("d1", at=BASE_TIME),
            prediction("d1-canary", at=BASE_TIME + 1, role="canary"),
            prediction("d2", at=BASE_TIME + DAY),
        ]
    )
    log.compact()
    assert exported_ids(log, since=utc(BASE_TIME)) == ["d1", "d1-canary", "d2"]  # inclusive
    assert exported_ids(log, until=utc(BASE_TIME + 1)) == ["d0", "d1"]  # exclusive
    assert exported_ids(log, since=utc(BASE_TIME), until=utc(BASE_TIME + DAY)) == [
        "d1",
        "d1-canary",
    ]
    assert exported_ids(log, role="canary") == ["d1-canary"]
    naive = datetime.fromtimestamp(BASE_TIME + DAY, UTC).replace(tzinfo=None)
    assert exported_ids(log, since=naive) == ["d2"]  # naive datetimes are UTC
    # Pruned by day: a file of a day outside the range is never opened.
    day_before = utc(BASE_TIME - DAY).date().isoformat()
    (old,) = [path for path in parquet_files(log.root) if f"date={day_before}" in str(path)]
    old.write_bytes(b"not parquet")
    assert exported_ids(log, since=utc(BASE_TIME)) == ["d1", "d1-canary", "d2"]


def test_find_prediction_ids(log: PredictionLog) -> None:
    log.append_predictions(batch("old", 50))
    log.compact()
    log.append_predictions(batch("new", 5, at=BASE_TIME + 100))
    log.append_predictions([prediction("elsewhere", endpoint="other")])
    log.append_feedback([feedback("label-only", 1, at=BASE_TIME)])
    asked = ["old-0000", "old-0049", "new-0004", "elsewhere", "label-only", "missing"]
    assert log.find_prediction_ids(ENDPOINT, asked) == {"old-0000", "old-0049", "new-0004"}
    assert log.find_prediction_ids("other", asked) == {"elsewhere"}
    assert log.find_prediction_ids(ENDPOINT, []) == set()
    log.append_predictions([prediction("newer")])  # hot segments are read incrementally
    assert log.find_prediction_ids(ENDPOINT, ["newer", "new-0000"]) == {"newer", "new-0000"}
    old = {f"old-{i:04d}" for i in range(50)}
    for unknown in (1500, 2500):  # several IN lists; one semi-join
        asked = [*old, *(f"nope-{i}" for i in range(unknown))]
        assert log.find_prediction_ids(ENDPOINT, asked) == old


def test_a_second_reader_sees_appends_at_once(tmp_path: Path) -> None:
    root = tmp_path / "log"
    ids = [f"r-{i:04d}" for i in range(10)]
    with PredictionLog(root) as writer, PredictionLog(root, background=False) as reader:
        writer.append_predictions(batch("r", 10))
        for stage in ("hot", "compacted"):
            assert reader.count(ENDPOINT) == 10, stage
            assert reader.find_prediction_ids(ENDPOINT, ids) == set(ids), stage
            assert exported_ids(reader) == ids, stage
            assert _read_in_subprocess(root, ids) == {"count": 10, "found": ids, "exported": ids}
            writer.compact()
        assert segment_files(root) == [] and len(parquet_files(root)) == 1


def _read_in_subprocess(root: Path, ids: list[str]) -> dict[str, Any]:
    code = (
        "import json, sys\n"
        "from opsloop.store.prediction_log import PredictionLog\n"
        "log = PredictionLog(sys.argv[1], background=False)\n"
        "ids = sys.argv[2:]\n"
        f"exported = log.export({ENDPOINT!r}).column('request_id').to_pylist()\n"
        f"found = sorted(log.find_prediction_ids({ENDPOINT!r}, ids))\n"
        f"print(json.dumps({{'count': log.count({ENDPOINT!r}), 'found': found,"
        " 'exported': exported}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(root), *ids],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_compaction_moves_every_segment_to_parquet_once(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with PredictionLog(root, segment_bytes=2048, background=False) as writer:
        for number in range(20):
            writer.append_predictions(batch(f"b{number:02d}", 5, at=BASE_TIME + number * 3600))
        writer.append_feedback([feedback("b00-0000", 1, at=BASE_TIME)])
        before = writer.export(ENDPOINT)
        assert len(segment_files(root)) > 10
        compacted = writer.compact()
        assert compacted == len(parquet_files(root)) > 10
        assert segment_files(root) == [] and hidden_files(root) == []
        after = writer.export(ENDPOINT)
        assert after.equals(before)
        assert after.num_rows == 100 == len(set(after.column("request_id").to_pylist()))
        assert writer.compact() == 0
        # Parquet files are sorted by request id, so row-group statistics prune lookups.
        for path in parquet_files(root):
            ids = pq.read_table(path, columns=["request_id"]).column(0).to_pylist()
            assert ids == sorted(ids)


def test_readers_racing_the_compactor_never_miss_nor_double_count(tmp_path: Path) -> None:
    root = tmp_path / "log"
    acknowledged = 0
    enough = threading.Event()  # the reader has raced long enough
    done = threading.Event()
    errors: list[BaseException] = []

    def append(writer: PredictionLog) -> None:
        nonlocal acknowledged
        try:
            number = 0
            while not enough.is_set():
                writer.append_predictions(batch(f"b{number:05d}", 4, at=BASE_TIME + number))
                acknowledged += 4
                number += 1
                time.sleep(0.002)  # let the compactor and the reader in
        except BaseException as error:
            errors.append(error)
        finally:
            done.set()

    def compact(writer: PredictionLog) -> None:
        try:
            while not done.is_set():
                compacted.append(writer.compact())  # seals the active segment too
                time.sleep(0.02)
        except BaseException as error:
            errors.append(error)

    compacted: list[int] = []
    with (
        PredictionLog(root, segment_bytes=8192, background=False) as writer,
        PredictionLog(root, background=False) as reader,
    ):
        workers = [
            threading.Thread(target=append, args=(writer,)),
            threading.Thread(target=compact, args=(writer,)),
        ]
        for worker in workers:
            worker.start()
        for _ in range(20):
            visible_before = acknowledged
            ids = exported_ids(reader)
            assert len(ids) == len(set(ids)), "a record was counted twice"
            assert len(ids) >= visible_before, "an acknowledged record was missed"
            assert reader.count(ENDPOINT) >= visible_before
        enough.set()
        for worker in workers:
            worker.join()
        assert errors == []
        assert sum(compacted) > 10  # the race did happen
        writer.compact()
        assert reader.count(ENDPOINT) == acknowledged == len(set(exported_ids(reader)))
        assert segment_files(root) == []


RACED_IDS = [f"r-{i:04d}" for i in range(5)]
QUERIES = {
    "export": (exported_ids, RACED_IDS),
    "count": (lambda log: log.count(ENDPOINT), 5),
    "find": (lambda log: sorted(log.find_prediction_ids(ENDPOINT, [*RACED_IDS, "x"])), RACED_IDS),
}


@pytest.mark.parametrize("query", list(QUERIES))
@pytest.mark.parametrize("moment", ["between the listings", "before the read"])
def test_a_compaction_at_the_worst_moment_is_seen_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moment: str, query: str
) -> None:
    """The compactor wins the race exactly where a reader is most exposed to it."""
    root = tmp_path / "log"
    with PredictionLog(root, background=False) as writer:
        writer.append_predictions(batch("r", 5))
    compactor = PredictionLog(root, background=False)
    raced: list[int] = []

    def racing(step: str, *, after: bool) -> None:
        real = getattr(_query, step)

        def compacted_meanwhile(*args: Any, **kwargs: Any) -> Any:
            if not after and not raced:
                raced.append(compactor.compact())
            result = real(*args, **kwargs)
            if after and not raced:
                raced.append(compactor.compact())
            return result

        monkeypatch.setattr(_query, step, compacted_meanwhile)

    if moment == "between the listings":  # whichever listing comes first
        racing("list_segments", after=True)
        racing("list_parquet", after=True)
    else:
        racing("read_complete", after=False)
    run, expected = QUERIES[query]
    with PredictionLog(root, background=False) as reader:
        assert run(reader) == expected
        assert raced == [1]


def test_a_torn_last_line_is_ignored_then_dropped(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with PredictionLog(root, background=False) as writer:
        writer.append_predictions(batch("r", 3))
    (segment,) = segment_files(root)
    with segment.open("ab") as file:
        file.write(b'{"request_id":"torn","time":17')  # a writer killed mid-write
    with PredictionLog(root, background=False) as reader:
        assert reader.count(ENDPOINT) == 3
        assert exported_ids(reader) == ["r-0000", "r-0001", "r-0002"]
        assert reader.find_prediction_ids(ENDPOINT, ["torn", "r-0000"]) == {"r-0000"}
        assert reader.compact() == 1
        assert segment_files(root) == []
        (compacted,) = parquet_files(root)
        assert pq.read_table(compacted).num_rows == 3
        assert exported_ids(reader) == ["r-0000", "r-0001", "r-0002"]


def test_an_interrupted_compaction_is_finished_by_the_next(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with PredictionLog(root, background=False) as writer:
        writer.append_predictions(batch("r", 5))
    (segment,) = segment_files(root)
    kept = segment.read_bytes()
    with PredictionLog(root, background=False) as log:
        assert log.compact() == 1
        (compacted,) = parquet_files(root)
        # Killed after the rename, before the unlink: both exist, the Parquet file counts.
        segment.write_bytes(kept)
        assert log.count(ENDPOINT) == 5 == len(exported_ids(log))
        # Killed while writing: a stray temp file beside it, and a creator's unnamed segment.
        stray = compacted.parent / f".{compacted.stem}.parquet.tmp-0123"
        stray.write_bytes(b"half a parquet file")
        compacted.unlink()
        (root / "segments" / ".predictions.x.2026-05-09.y.jsonl.new").write_bytes(b"")
        assert log.count(ENDPOINT) == 5 == len(exported_ids(log))
        assert log.compact() == 1
        assert hidden_files(root) == [] and segment_files(root) == []
        assert log.count(ENDPOINT) == 5 == len(exported_ids(log))


def test_a_full_disk_during_compaction_loses_nothing(
    log: PredictionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.append_predictions(batch("r", 5))

    def disk_full(table: pa.Table, file: Any, **options: Any) -> None:
        file.write(b"PAR1 and then no more room")
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(pq, "write_table", disk_full)
        assert log.compact() == 0
    assert len(segment_files(log.root)) == 1 and hidden_files(log.root) == []
    assert exported_ids(log) == [f"r-{i:04d}" for i in range(5)]
    assert log.compact() == 1
    assert exported_ids(log) == [f"r-{i:04d}" for i in range(5)]


def test_acknowledged_predictions_survive_kill_9(tmp_path: Path) -> None:
    root = tmp_path / "log"
    server = subprocess.Popen(
        [sys.executable, str(WRITER), str(root), "forever"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    lines = []
    try:
        while len(lines) < 150:
            line = server.stdout.readline()
            assert line, "the writer died before it was killed"
            lines.append(line)
    finally:
        server.send_signal(signal.SIGKILL)
        rest, _ = server.communicate(timeout=30)
    lines += rest.splitlines(keepends=True)
    # Only whole lines: a line cut short by the kill was being printed, not yet read.
    acknowledged = [i for line in lines if line.endswith("\n") for i in line.split()]
    with PredictionLog(root, background=False) as log:
        assert log.find_prediction_ids(ENDPOINT, acknowledged) == set(acknowledged)
        log.compact()
        assert log.find_prediction_ids(ENDPOINT, acknowledged) == set(acknowledged)
        ids = exported_ids(log)
        assert len(ids) == len(set(ids)) >= len(acknowledged)
        assert segment_files(root) == [] and hidden_files(root) == []


def test_orphaned_segments_are_compacted_by_the_next_writer(tmp_path: Path) -> None:
    root = tmp_path / "log"
    dead = subprocess.Popen(
        [sys.executable, str(WRITER), str(root), "12"], stdout=subprocess.PIPE, text=True
    )
    output = _read_until_ready(dead)
    orphaned = [i for line in output for i in line.split()]
    assert len(segment_files(root)) > 1  # sealed ones and the active one, none compacted
    with PredictionLog(root, segment_age_s=3600) as successor:
        successor.append_predictions([prediction("successor")])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            _parquet_ids(root) != set(orphaned) or len(segment_files(root)) > 1
        ):
            time.sleep(0.05)
        assert _parquet_ids(root) == set(orphaned)
        assert len(segment_files(root)) == 1  # the successor's own, still active
        assert successor.count(ENDPOINT) == len(orphaned) + 1


def _read_until_ready(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines = []
    try:
        for line in process.stdout:
            if line.strip() == "ready":
                break
            lines.append(line)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    return lines


def _parquet_ids(root: Path) -> set[str]:
    ids: set[str] = set()
    for path in parquet_files(root):
        ids.update(pq.read_table(path, columns=["request_id"]).column(0).to_pylist())
    return ids


def test_fsync_is_a_group_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    threads, appends_each, records_each = 4, 5, 3
    real_fsync = os.fsync
    synced: dict[int, int] = {}  # inode -> bytes covered by an fsync that finished
    calls = 0
    lock = threading.Lock()

    def fsync(fd: int) -> None:
        nonlocal calls
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            real_fsync(fd)  # a directory, for a new segment's name
            return
        with lock:
            calls += 1
            first = calls == 1
        if first:
            # Hold the first fsync until every thread has written: they must share the next.
            deadline = time.monotonic() + 10
            while _lines(tmp_path) < threads * records_each and time.monotonic() < deadline:
                time.sleep(0.001)
        real_fsync(fd)
        with lock:
            synced[status.st_ino] = max(synced.get(status.st_ino, 0), status.st_size)

    monkeypatch.setattr(os, "fsync", fsync)
    errors: list[str] = []

    def append(writer: PredictionLog, worker: int) -> None:
        for number in range(appends_each):
            records = batch(f"w{worker}-{number}", records_each)
            writer.append_predictions(records)
            (segment,) = segment_files(tmp_path)
            end = segment.read_bytes().index(records[-1]["request_id"].encode())
            with lock:
                if end >= synced.get(segment.stat().st_ino, 0):
                    errors.append(f"{records[-1]['request_id']} returned before its fsync")

    with PredictionLog(tmp_path, fsync=True, background=False) as writer:
        workers = [
            threading.Thread(target=append, args=(writer, worker)) for worker in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        assert writer.count(ENDPOINT) == threads * appends_each * records_each
    assert 0 < calls < threads * appends_each


def _lines(root: Path) -> int:
    return sum(path.read_bytes().count(b"\n") for path in segment_files(root))


def test_type_conflicts_fall_back_to_text(log: PredictionLog) -> None:
    log.append_predictions(
        [
            prediction("a", inputs={"mixed": 1, "number": 1, "late": 5}, prediction=1),
            prediction("b", at=BASE_TIME + 1, inputs={"mixed": "x", "number": 2.5}),
        ]
    )
    log.compact()  # one file with the types above
    log.append_predictions(
        [
            prediction("c", at=BASE_TIME + 2, inputs={"mixed": True, "late": "five"}),
            prediction("d", at=BASE_TIME + 3, inputs={"when": "2026-05-09"}, prediction="no"),
        ]
    )
    table = log.export(ENDPOINT)
    types = dict(zip(table.column_names, table.schema.types, strict=True))
    assert types["input.number"] == pa.float64()
    assert types["input.mixed"] == types["input.late"] == types["prediction"] == pa.string()
    assert types["input.when"] == pa.string()  # a date-like string stays the string it was
    assert table.column("input.mixed").to_pylist() == ["1", "x", "true", None]
    assert table.column("input.number").to_pylist() == [1.0, 2.5, None, None]
    assert table.column("input.late").to_pylist() == ["5", None, "five", None]
    assert table.column("input.when").to_pylist() == [None, None, None, "2026-05-09"]
    assert table.column("prediction").to_pylist() == ["1", "1", "1", "no"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"inputs": {"length": 3, "blob": object()}}, "inputs.blob"),
        ({"prediction": {1, 2}}, "prediction"),
        ({"time": "yesterday"}, "time"),
        ({"endpoint": ""}, "endpoint"),
        ({"request_id": 7}, "request_id"),
    ],
)
def test_a_bad_value_raises_invalid_input_and_writes_nothing(
    log: PredictionLog, changes: dict[str, Any], field: str
) -> None:
    log.append_predictions([prediction("kept")])
    bad = {**prediction("bad"), **changes}
    with pytest.raises(InvalidInput) as raised:
        log.append_predictions([prediction("same-batch"), bad])
    assert raised.value.field == field
    assert field in raised.value.headline
    log.append_predictions([prediction("after", at=BASE_TIME + 1)])
    assert exported_ids(log) == ["kept", "after"]
    log.compact()
    assert exported_ids(log) == ["kept", "after"]


def test_segments_seal_by_size_and_by_age(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, segment_bytes=500, background=False) as by_size:
        by_size.append_predictions(batch("a", 3))
        by_size.append_predictions(batch("b", 1))
        assert len(segment_files(tmp_path)) == 2
    shutil.rmtree(tmp_path / "segments")
    with PredictionLog(tmp_path, segment_age_s=0.01, background=False) as by_age:
        by_age.append_predictions(batch("a", 1))
        time.sleep(0.05)
        by_age.append_predictions(batch("b", 1))
        assert len(segment_files(tmp_path)) == 2
    with PredictionLog(tmp_path, segment_age_s=0.05) as background:
        background.append_predictions(batch("c", 1))
        deadline = time.monotonic() + 20
        while segment_files(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.02)  # the background thread seals the idle segment and compacts all
        assert segment_files(tmp_path) == []
        assert background.count(ENDPOINT) == 3


def test_endpoint_names_with_any_characters(log: PredictionLog) -> None:
    names = ["a/b", "..", "with space.and.dots", "ünï"]
    for name in names:
        log.append_predictions([prediction(f"id-{name}", endpoint=name)])
    log.append_predictions([prediction("day-two", endpoint="a/b", at=BASE_TIME + DAY)])
    assert log.endpoints() == sorted(names)
    log.compact()
    assert log.endpoints() == sorted(names)
    assert log.export("a/b", with_inputs=False).column("request_id").to_pylist() == [
        "id-a/b",
        "day-two",
    ]
    assert log.find_prediction_ids("..", ["id-..", "id-a/b"]) == {"id-.."}
    assert all(path.is_relative_to(log.root) for path in parquet_files(log.root))


def test_several_writers_share_one_root(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with (
        PredictionLog(root, segment_bytes=3000) as first,
        PredictionLog(root, segment_bytes=3000) as second,
    ):
        for number in range(10):
            first.append_predictions(batch(f"first{number}", 3, at=BASE_TIME + number))
            second.append_predictions(batch(f"second{number}", 3, at=BASE_TIME + number))
        first.compact()  # compacts the other writer's sealed segments too, never its active one
        assert first.count(ENDPOINT) == 60 == len(set(exported_ids(first)))
        assert second.count(ENDPOINT) == 60
    with PredictionLog(root, background=False) as reader:
        reader.compact()
        assert reader.count(ENDPOINT) == 60 == len(set(exported_ids(reader)))
        assert segment_files(root) == []


def test_export_since_reads_recent_feedback_for_old_predictions(log: PredictionLog) -> None:
    log.append_predictions([prediction("r", at=BASE_TIME)])
    log.append_feedback([feedback("r", 1, at=BASE_TIME + 3 * DAY)])
    log.compact()
    (row,) = log.export(ENDPOINT, since=utc(BASE_TIME) - timedelta(hours=1)).to_pylist()
    assert row["label"] == 1


@pytest.mark.parametrize("compacted", [False, True])
def test_an_export_of_the_labelled_only_holds_what_has_a_label(
    log: PredictionLog, compacted: bool
) -> None:
    log.append_predictions(batch("r", 5))
    log.append_feedback(
        [feedback("r-0001", 1, at=BASE_TIME + 60), feedback("r-0003", 0, at=BASE_TIME + 60)]
    )
    if compacted:
        log.compact()
    everything = log.export(ENDPOINT, with_inputs=False)
    labelled = log.export(ENDPOINT, with_inputs=False, labelled_only=True)
    assert len(everything) == 5
    assert labelled.column_names == everything.column_names
    assert labelled.column("request_id").to_pylist() == ["r-0001", "r-0003"]
    assert labelled.column("label").to_pylist() == [1, 0]
