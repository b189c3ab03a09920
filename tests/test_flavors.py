"""Every flavor saves a model and loads back one that predicts the same; tampering is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from opsloop.domain.errors import IntegrityError, InvalidInput
from opsloop.sdk.client import Client
from opsloop.sdk.models import load_model, register_model
from opsloop.services import flavors


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:200], y.to_numpy()[:200]


def sklearn_model(X: pd.DataFrame, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)


def lightgbm_model(X: pd.DataFrame, y: np.ndarray) -> Any:
    import lightgbm

    return lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)


def lightgbm_booster(X: pd.DataFrame, y: np.ndarray) -> Any:
    import lightgbm

    return lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(X, y), 10)


def xgboost_model(X: pd.DataFrame, y: np.ndarray) -> Any:
    import xgboost

    return xgboost.XGBClassifier(n_estimators=10).fit(X, y)


def onnx_model(X: pd.DataFrame, y: np.ndarray) -> Any:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(max_iter=5000).fit(X.to_numpy(np.float32), y)
    return to_onnx(fitted, X.to_numpy(np.float32)[:1], options={"zipmap": False})


class Threshold:
    """A hand-written model: any object with ``predict``."""

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        return (inputs["mean radius"] > 14).astype(int).to_numpy()


def threshold_model(X: pd.DataFrame, y: np.ndarray) -> Any:
    return Threshold()


def function_model(X: pd.DataFrame, y: np.ndarray) -> Any:
    return lambda frame: (frame["mean area"] > 700).astype(int).to_numpy()


CASES: list[tuple[str, Callable[[pd.DataFrame, np.ndarray], Any]]] = [
    ("sklearn", sklearn_model),
    ("lightgbm", lightgbm_model),
    ("lightgbm", lightgbm_booster),
    ("xgboost", xgboost_model),
    ("onnx", onnx_model),
    ("python_function", threshold_model),
    ("python_function", function_model),
]


@pytest.mark.parametrize(("flavor", "make"), CASES, ids=[m.__name__ for _, m in CASES])
def test_round_trip_predicts_the_same(
    client: Client, data: tuple[pd.DataFrame, np.ndarray], flavor: str, make: Callable
) -> None:
    X, y = data
    model = make(X, y)
    features = X.to_numpy(np.float32) if flavor == "onnx" else X
    if hasattr(model, "predict"):
        expected = model.predict(features)
    elif callable(model):
        expected = model(features)
    else:  # an ONNX proto has no predict of its own: compare with the model it came from
        from sklearn.linear_model import LogisticRegression

        expected = LogisticRegression(max_iter=5000).fit(features, y).predict(features)
    version = register_model(client, model, "p/m", input_example=features[:5])
    assert version.flavor == flavor
    loaded = load_model(client, "models:/p/m@latest")
    got = loaded.predict(features)
    np.testing.assert_allclose(
        np.asarray(got, dtype=float), np.asarray(expected, dtype=float), rtol=1e-5
    )


def test_signature_from_a_dataframe_names_columns_and_classes(
    client: Client, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    X, y = data
    version = register_model(client, sklearn_model(X, y), "p/m", input_example=X[:3])
    assert [c.name for c in version.signature.inputs] == list(X.columns)
    assert {c.type for c in version.signature.inputs} == {"double"}
    assert version.signature.classes == [0, 1]
    assert version.signature.output_type == "long"


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (pd.Series(["en", "fr"]), "string"),  # pandas 3's default text dtype
        (pd.Series(["en", "fr"], dtype=object), "string"),
        (pd.Series(["en", "fr"], dtype="category"), "category"),
        (pd.Series([1, None], dtype="Int64"), "long"),
        (pd.Series([True, None], dtype="boolean"), "boolean"),
        (pd.Series([1.5, None], dtype="Float64"), "double"),
        (pd.Series(pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True)), "datetime"),
    ],
    ids=["str", "object", "category", "Int64", "boolean", "Float64", "datetime-tz"],
)
def test_signature_types_of_pandas_columns(column: pd.Series, expected: str) -> None:
    from opsloop.services.signature import type_name

    assert type_name(column.dtype) == expected


def test_signature_from_an_array_is_a_tensor(
    client: Client, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = data
    array = X.to_numpy()
    version = register_model(
        client, LogisticRegression(max_iter=5000).fit(array, y), "p/m", input_example=array[:2]
    )
    assert version.signature.input_tensor == {"dtype": "double", "shape": [-1, 30]}
    assert version.signature.inputs == []


def test_an_example_the_model_cannot_score_is_refused(
    client: Client, data: tuple[pd.DataFrame, np.ndarray]
) -> None:
    X, y = data
    with pytest.raises(InvalidInput, match="predict failed") as caught:
        register_model(client, sklearn_model(X, y), "p/m", input_example=X.iloc[:3, :5])
    assert caught.value.field == "input_example"


def test_an_object_without_predict_has_no_flavor() -> None:
    with pytest.raises(InvalidInput, match="cannot tell how to save"):
        flavors.detect(object())


def test_a_tampered_model_artifact_is_refused(
    client: Client, data: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    X, y = data
    version = register_model(client, sklearn_model(X, y), "p/m")
    blob = next((tmp_path / "home" / "artifacts").rglob(version.sha256))
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError, match="modified after it was stored"):
        load_model(client, "models:/p/m/1")


def test_outside_flavors_register_through_the_same_point(client: Client) -> None:
    class Doubler:
        def predict(self, values: list[float]) -> list[float]:
            return [2 * v for v in values]

    class TextFlavor(flavors.Flavor):
        name = "doubler-text"

        def matches(self, model: Any) -> bool:
            return isinstance(model, Doubler)

        def save(self, model: Any) -> bytes:
            return b"doubler"

        def load(self, data: bytes) -> Any:
            assert data == b"doubler"
            return Doubler()

    flavors.register(TextFlavor())
    try:
        version = register_model(client, Doubler(), "p/doubler")
        assert version.flavor == "doubler-text"
        assert load_model(client, "p/doubler").predict([1.5]) == [3.0]
    finally:
        flavors.base._FLAVORS.pop("doubler-text")
