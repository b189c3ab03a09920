"""scikit-learn estimators and pipelines, saved with joblib."""

from __future__ import annotations

import io
from typing import Any

from opsloop.services.flavors.base import Flavor, module_of


class SklearnFlavor(Flavor):
    name = "sklearn"

    def matches(self, model: Any) -> bool:
        if not module_of(model).startswith("sklearn"):
            return False
        return callable(getattr(model, "predict", None))

    def save(self, model: Any) -> bytes:
        import joblib

        sink = io.BytesIO()
        joblib.dump(model, sink)
        return sink.getvalue()

    def load(self, data: bytes) -> Any:
        import joblib

        return joblib.load(io.BytesIO(data))
