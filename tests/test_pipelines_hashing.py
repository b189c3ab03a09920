"""A step's cache key: the same code and inputs give the same key, any change another."""

from __future__ import annotations

import copy
import importlib
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from opsloop.domain.entities import DatasetProfile, DatasetVersion
from opsloop.services.pipelines.hashing import Unhashable, cache_key, value_digest


def scale(frame: Any, factor: float = 2.0) -> Any:
    return frame * factor


def key(*args: Any, fn: Any = scale, **kwargs: Any) -> str:
    return cache_key("tests.scale", fn, args, kwargs)


def dataset(version: int, sha256: str) -> DatasetVersion:
    return DatasetVersion(
        project="p",
        dataset="d",
        version=version,
        sha256=sha256,
        size=1,
        num_rows=1,
        num_columns=1,
        profile=DatasetProfile(num_rows=1, num_columns=1, columns=[]),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        created_by="x",
    )


FRAME = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})


@pytest.mark.parametrize(
    ("same", "other"),
    [
        (FRAME.copy(), FRAME.assign(a=[1, 2, 4])),  # by content, not by object
        (FRAME.copy(), FRAME.rename(columns={"b": "c"})),  # column names count
        (FRAME.copy(), FRAME.astype({"a": "float64"})),  # and dtypes
        (pa.Table.from_pandas(FRAME), pa.Table.from_pandas(FRAME.assign(b=["x", "y", "q"]))),
        (np.arange(6).reshape(2, 3), np.arange(6).reshape(3, 2)),  # the shape counts
        (dataset(1, "a" * 64), dataset(2, "a" * 64)),  # a version by its identity
        (dataset(1, "a" * 64), dataset(1, "b" * 64)),  # and its content hash
        ({"x": 1, "y": [1, 2]}, {"x": 1, "y": [2, 1]}),
        ((1, 2), [1, 2]),  # the type counts
        (1, 1.0),
        ("1", 1),
    ],
)
def test_equal_inputs_share_a_key_and_different_ones_do_not(same: Any, other: Any) -> None:
    assert value_digest(same) == value_digest(copy.deepcopy(same))
    assert value_digest(same) != value_digest(other)


def test_dict_order_and_arrow_chunking_do_not_change_a_key() -> None:
    assert value_digest({"x": 1, "y": 2}) == value_digest({"y": 2, "x": 1})
    whole = pa.table({"a": list(range(10))})
    chunked = pa.concat_tables([whole.slice(0, 3), whole.slice(3)])
    assert chunked.column("a").num_chunks == 2
    assert value_digest(whole) == value_digest(chunked)


def test_arguments_bind_by_name_and_defaults_count() -> None:
    assert key(FRAME) == key(frame=FRAME) == key(FRAME, 2.0)
    assert key(FRAME) != key(FRAME, 3.0)


def test_the_step_name_the_code_and_its_closure_are_part_of_the_key() -> None:
    def make(factor: float) -> Any:
        def scaled(frame: Any) -> Any:
            return frame * factor

        return scaled

    assert key(1, fn=make(2.0)) == key(1, fn=make(2.0))
    assert key(1, fn=make(2.0)) != key(1, fn=make(3.0))
    assert cache_key("a.step", scale, (1,), {}) != cache_key("b.step", scale, (1,), {})

    def scale_again(frame: Any, factor: float = 2.0) -> Any:
        return frame * factor + 0

    assert key(1) != key(1, fn=scale_again)


def test_a_function_passed_in_is_hashed_by_its_code_and_closure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edited training function must not be served from the cache: it is hashed by its
    code, not by the importable name cloudpickle would keep of it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    module = tmp_path / "user_training.py"
    module.write_text("def train(x):\n    return x + 1\n")
    import user_training

    before = value_digest(user_training.train)
    assert value_digest(user_training.train) == before
    module.write_text("def train(x):\n    return x + 2\n")
    importlib.reload(user_training)
    assert value_digest(user_training.train) != before

    def closing(threshold: float) -> Any:
        def train(x: Any) -> Any:
            return x > threshold

        return train

    assert value_digest(closing(0.5)) == value_digest(closing(0.5))
    assert value_digest(closing(0.5)) != value_digest(closing(0.7))


def test_code_without_source_hashes_its_compiled_code() -> None:
    made: list[Any] = []
    for body in ("x + 1", "x + 1", "x + 2"):
        namespace: dict[str, Any] = {}
        exec(f"def step(x):\n    return {body}\n", namespace)
        made.append(namespace["step"])
    keys = [cache_key("tests.step", fn, (1,), {}) for fn in made]
    assert keys[0] == keys[1] != keys[2]


def test_an_input_that_cannot_be_pickled_is_unhashable_and_a_bad_call_a_type_error() -> None:
    with pytest.raises(Unhashable, match="lock cannot be hashed"):
        key(threading.Lock())
    with pytest.raises(TypeError):
        key(1, 2, 3)
