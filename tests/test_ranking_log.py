"""The prediction log keeps a ranking's lists and grades: written, queried hot, compacted to
Parquet, beside older segments of numbers in the same columns, and given back exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from opsloop.store.prediction_log import PredictionLog

T0 = 1_778_328_000.0


def prediction(number: int, answer: Any) -> dict[str, Any]:
    return {
        "request_id": f"r{number:03d}",
        "time": T0 + number,
        "endpoint": "recs",
        "project": "movies",
        "model": "top",
        "version": 1,
        "role": "primary",
        "deployment": 1,
        "inputs": {"user": number},
        "prediction": answer,
        "score": None,
        "scores": None,
        "latency_ms": 1.0,
    }


def label(number: int, value: Any) -> dict[str, Any]:
    return {
        "request_id": f"r{number:03d}",
        "time": T0 + 60 + number,
        "endpoint": "recs",
        "label": value,
        "source": "user",
        "actor": "ana",
    }


def exported(log: PredictionLog) -> dict[str, tuple[Any, Any]]:
    """Each request's prediction and label as sent: lists and objects come back as JSON text."""
    table = log.export("recs")
    found = {}
    for row in table.to_pylist():
        answer, truth = row["prediction"], row["label"]
        found[row["request_id"]] = (
            json.loads(answer) if isinstance(answer, str) else answer,
            json.loads(truth) if isinstance(truth, str) and truth[:1] in "[{" else truth,
        )
    return found


def test_lists_and_grades_load_back_exactly_beside_older_numbers(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, background=False) as log:
        # An older day: one number per answer and per label, compacted to typed Parquet.
        log.append_predictions([prediction(0, 7), prediction(1, 3)])
        log.append_feedback([label(0, 7), label(1, 4)])
        assert log.compact() == 2
        # Then lists: ragged, empty, of text, of both; clicks and grades.
        answers = {2: [318, 50, 2], 3: [], 4: ["tt01", "tt02"], 5: [9, "x"]}
        truths: dict[int, Any] = {2: {"318": 4.5, "50": 2}, 3: [], 4: ["tt02"], 5: {}}
        log.append_predictions([prediction(n, a) for n, a in answers.items()])
        log.append_feedback([label(n, t) for n, t in truths.items()])
        expected = {
            "r000": (7, "7"),
            "r001": (3, "4"),
            **{f"r{n:03d}": (answers[n], truths[n]) for n in answers},
        }
        hot = exported(log)
        assert hot == expected
        assert log.compact() == 2
        assert exported(log) == expected  # the same from Parquet
        assert log.count_labelled("recs") == 6
        assert log.export("recs", labelled_only=True).num_rows == 6


def test_an_object_is_never_split_into_a_column_per_key(tmp_path: Path) -> None:
    grades = [{"318": 4.5}, {"50": 3.0, "7": 1}, {str(n): 1 for n in range(500)}]
    with PredictionLog(tmp_path, background=False) as log:
        log.append_predictions([prediction(n, [1, 2]) for n in range(3)])
        log.append_feedback([label(n, value) for n, value in enumerate(grades)])
        log.compact()
        files = list((tmp_path / "feedback").rglob("*.parquet"))
        assert len(files) == 1
        assert pq.read_schema(files[0]).field("label").type == "string"  # JSON text, one column
        assert [truth for _, truth in exported(log).values()] == grades


def test_an_object_written_by_another_writer_is_read_as_its_json_text(tmp_path: Path) -> None:
    """A writer that does not turn objects into text first (an older one, say) still loads:
    the segment is read in Python and each object kept exactly as it was written."""
    with PredictionLog(tmp_path, background=False) as log:
        log.append_predictions([prediction(n, [n]) for n in range(2)])
        raw = [label(0, {"318": 4.5}), label(1, {"50": 2, "318": 1.0})]
        log._writer_started().append("feedback", raw)
        assert [truth for _, truth in exported(log).values()] == [
            {"318": 4.5},
            {"50": 2, "318": 1.0},
        ]
        log.compact()
        assert [truth for _, truth in exported(log).values()] == [
            {"318": 4.5},
            {"50": 2, "318": 1.0},
        ]
