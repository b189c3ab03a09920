"""LightGBM and XGBoost: their scikit-learn wrappers via joblib, bare boosters natively."""

from __future__ import annotations

import io
from typing import Any

from opsloop.services.flavors.base import Flavor, module_of

_NATIVE = b"OPSLOOP-NATIVE-BOOSTER\n"


class LightGBMFlavor(Flavor):
    name = "lightgbm"

    def matches(self, model: Any) -> bool:
        return module_of(model).startswith("lightgbm")

    def save(self, model: Any) -> bytes:
        import joblib
        import lightgbm

        if isinstance(model, lightgbm.Booster):
            return _NATIVE + model.model_to_string().encode()
        sink = io.BytesIO()
        joblib.dump(model, sink)
        return sink.getvalue()

    def load(self, data: bytes) -> Any:
        import joblib
        import lightgbm

        if data.startswith(_NATIVE):
            return lightgbm.Booster(model_str=data[len(_NATIVE) :].decode())
        return joblib.load(io.BytesIO(data))


class XGBoostFlavor(Flavor):
    name = "xgboost"

    def matches(self, model: Any) -> bool:
        return module_of(model).startswith("xgboost")

    def save(self, model: Any) -> bytes:
        import joblib
        import xgboost

        if isinstance(model, xgboost.Booster):
            return _NATIVE + bytes(model.save_raw("ubj"))
        sink = io.BytesIO()
        joblib.dump(model, sink)
        return sink.getvalue()

    def load(self, data: bytes) -> Any:
        import joblib
        import xgboost

        if data.startswith(_NATIVE):
            booster = xgboost.Booster()
            booster.load_model(bytearray(data[len(_NATIVE) :]))
            return _BoosterModel(booster)
        return joblib.load(io.BytesIO(data))


class _BoosterModel:
    """A bare XGBoost booster, given ``predict`` on arrays and DataFrames."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, inputs: Any) -> Any:
        import xgboost

        return self.booster.predict(xgboost.DMatrix(inputs))
