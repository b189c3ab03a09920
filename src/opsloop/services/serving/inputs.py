"""Check request rows against a model's signature and put them in the model's column order.

A row is an object keyed by feature name or an array in signature order. Every problem is
reported as ``row N, field F: rule`` so a caller can find it without reading our code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opsloop.domain.entities import Signature
from opsloop.domain.errors import InvalidInput

Check = Callable[[Any], Any]
NUMERIC_TYPES = ("double", "float", "long", "integer", "int")
MAX_TEXT = 100_000
LONG_RANGE = range(-(2**63), 2**63)  # a long is 64 bits: the model's arrays and the log hold that


def _double(value: Any) -> Any:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return value
    raise ValueError("must be a number")


def _long(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in LONG_RANGE:
            raise ValueError("must be a whole number from -2**63 to 2**63 - 1")
        return value
    raise ValueError("must be a whole number")


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    raise ValueError("must be true or false")


def _text(value: Any) -> Any:
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        return value
    if isinstance(value, str):
        raise ValueError(f"must be text of at most {MAX_TEXT} characters")
    raise ValueError("must be text")


def _anything(value: Any) -> Any:
    if isinstance(value, dict | list):
        raise ValueError("must be a single value, not an object or a list")
    return value


_CHECKS: dict[str, Check] = {
    "double": _double,
    "float": _double,
    "long": _long,
    "integer": _long,
    "int": _long,
    "boolean": _boolean,
    "string": _text,
    "category": _text,
    "datetime": _text,
}


class InputSchema:
    """What a model accepts, from its signature: named columns, or a fixed-width tensor."""

    def __init__(self, names: Sequence[str], types: Sequence[str], named: bool) -> None:
        self.names = list(names)
        self.types = list(types)
        self.named = named
        self.width = len(self.names)
        self._checks = [_CHECKS.get(t, _anything) for t in self.types]
        self._index = {name: i for i, name in enumerate(self.names)}
        self.numeric = all(t in NUMERIC_TYPES for t in self.types)

    @classmethod
    def of(cls, signature: Signature) -> InputSchema | None:
        """The schema a signature describes; None when it says nothing about inputs."""
        if signature.inputs:
            return cls([c.name for c in signature.inputs], [c.type for c in signature.inputs], True)
        tensor = signature.input_tensor
        if tensor and len(tensor.get("shape") or []) == 2 and tensor["shape"][1] > 0:
            width = int(tensor["shape"][1])
            return cls(
                [str(i) for i in range(width)], [tensor.get("dtype", "double")] * width, False
            )
        return None

    def rows(self, rows: Any) -> list[list[Any]]:
        """``rows`` as lists in signature order, every value checked; raises InvalidInput
        naming the first bad row, field and rule."""
        if not isinstance(rows, list) or not rows:
            raise InvalidInput("inputs must be a non-empty list of rows", field="inputs")
        return [self.row(row, i) for i, row in enumerate(rows)]

    @property
    def listed(self) -> str:
        """The first features, for error messages: ``a, b, c, ...``."""
        return ", ".join(self.names[:8]) + (", ..." if self.width > 8 else "")

    def row(self, row: Any, number: int) -> list[Any]:
        if isinstance(row, dict):
            values = self._from_object(row, number)
        elif isinstance(row, list):
            if len(row) != self.width:
                takes = f" ({self.listed})" if self.named else ""
                raise InvalidInput(
                    f"row {number}: has {len(row)} values, the model takes {self.width}{takes}",
                    field=f"inputs[{number}]",
                )
            values = row
        else:
            raise InvalidInput(
                f"row {number}: must be an object keyed by feature name or an array of values",
                field=f"inputs[{number}]",
            )
        checked: list[Any] = []
        for i, (value, check) in enumerate(zip(values, self._checks, strict=True)):
            if value is None:
                checked.append(None)
                continue
            try:
                checked.append(check(value))
            except ValueError as exc:
                raise InvalidInput(
                    f"row {number}, field {self.names[i]!r}: {exc} ({self.types[i]}), "
                    f"got {_shown(value)}",
                    field=f"inputs[{number}].{self.names[i]}",
                ) from None
        return checked

    def _from_object(self, row: dict[str, Any], number: int) -> list[Any]:
        if len(row) != self.width or any(name not in self._index for name in row):
            unknown = [name for name in row if name not in self._index]
            if unknown:
                raise InvalidInput(
                    f"row {number}: unknown field {unknown[0]!r} (the model takes {self.listed})",
                    field=f"inputs[{number}].{unknown[0]}",
                )
            missing = next(name for name in self.names if name not in row)
            raise InvalidInput(
                f"row {number}, field {missing!r}: is missing", field=f"inputs[{number}].{missing}"
            )
        return [row[name] for name in self.names]

    def as_object(self, values: Sequence[Any]) -> dict[str, Any]:
        """A checked row keyed by feature name: what the prediction log keeps."""
        return dict(zip(self.names, values, strict=True))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
