"""ONNX models (``onnx.ModelProto`` or serialized bytes), run with ONNX Runtime."""

from __future__ import annotations

from typing import Any

from opsloop.services.flavors.base import Flavor, module_of


class OnnxFlavor(Flavor):
    name = "onnx"

    def matches(self, model: Any) -> bool:
        return module_of(model).startswith("onnx")

    def save(self, model: Any) -> bytes:
        data: bytes = model.SerializeToString()
        return data

    def load(self, data: bytes) -> Any:
        return OnnxModel(data)


class OnnxModel:
    """An ONNX Runtime session with ``predict`` and, for classifiers, ``predict_proba``."""

    def __init__(self, data: bytes) -> None:
        import onnxruntime

        self.session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [output.name for output in self.session.get_outputs()]

    def _run(self, inputs: Any) -> list[Any]:
        import numpy as np

        array = np.asarray(getattr(inputs, "values", inputs), dtype=np.float32)
        return list(self.session.run(None, {self.input_name: array}))

    def predict(self, inputs: Any) -> Any:
        return self._run(inputs)[0]

    def predict_proba(self, inputs: Any) -> Any:
        outputs = self._run(inputs)
        if len(outputs) < 2:
            raise AttributeError("this ONNX model has no probability output")
        probabilities = outputs[1]
        if isinstance(probabilities, list):  # skl2onnx's ZipMap: one {class: p} per row
            import numpy as np

            keys = sorted(probabilities[0])
            return np.array([[row[k] for k in keys] for row in probabilities])
        return probabilities
