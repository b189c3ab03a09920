"""The model flavor contract, and the registry built-in and outside flavors share.

A flavor turns a live model object into bytes and back. ``load`` returns an object with
``predict`` (and ``predict_proba`` where the model has it) — what serving and evaluation call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from opsloop.domain.errors import InvalidInput


class Flavor(ABC):
    name: ClassVar[str]

    @abstractmethod
    def matches(self, model: Any) -> bool:
        """Whether this flavor knows how to save ``model``. Must not import heavy libraries
        unless the model already comes from them."""

    @abstractmethod
    def save(self, model: Any) -> bytes: ...

    @abstractmethod
    def load(self, data: bytes) -> Any: ...


_FLAVORS: dict[str, Flavor] = {}


def register(flavor: Flavor) -> Flavor:
    """Add a flavor; later registrations are tried first when detecting a model's flavor."""
    _FLAVORS[flavor.name] = flavor
    return flavor


def get(name: str) -> Flavor:
    try:
        return _FLAVORS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown model flavor {name!r}; known: {', '.join(sorted(_FLAVORS))}", field="flavor"
        ) from None


def names() -> list[str]:
    return sorted(_FLAVORS)


def detect(model: Any) -> Flavor:
    for flavor in reversed(list(_FLAVORS.values())):
        if flavor.matches(model):
            return flavor
    raise InvalidInput(
        f"cannot tell how to save a {type(model).__module__}.{type(model).__name__}: give it a "
        "predict method or pass flavor=",
        field="model",
    )


def module_of(model: Any) -> str:
    return type(model).__module__ or ""
