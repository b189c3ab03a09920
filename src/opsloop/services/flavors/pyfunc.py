"""Any Python object with ``predict`` (or a plain function), saved with cloudpickle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsloop.services.flavors.base import Flavor


class FunctionModel:
    """Gives a plain function the ``predict`` method everything else expects."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def predict(self, inputs: Any) -> Any:
        return self.function(inputs)


class PyFuncFlavor(Flavor):
    name = "python_function"

    def matches(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None)) or callable(model)

    def save(self, model: Any) -> bytes:
        import cloudpickle

        if not callable(getattr(model, "predict", None)):
            model = FunctionModel(model)
        data: bytes = cloudpickle.dumps(model)
        return data

    def load(self, data: bytes) -> Any:
        import cloudpickle

        return cloudpickle.loads(data)
