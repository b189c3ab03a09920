"""Drift statistics registered by name; the built-ins register through the same call.

A statistic is registered once per column kind (``numeric`` or ``categorical``): Jensen-Shannon,
for one, is two registrations under one name. ``compute`` receives the column's samples
(``NumericSamples`` or ``CategoricalSamples``) and returns ``(statistic, p_value)``; a
statistic that is not a test returns ``None`` as its p-value. ``decides_by`` says how a value
becomes a drifted flag when the statistic decides: ``"p_value"`` (drifted when the p-value is
below the cut-off) or ``"statistic"`` (drifted when the statistic is at or above it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from opsloop.domain.errors import InvalidInput

KINDS = ("numeric", "categorical")

StatisticValue = tuple[float | None, float | None]


@dataclass(frozen=True)
class Statistic:
    name: str
    kind: Literal["numeric", "categorical"]
    compute: Callable[[Any], StatisticValue]
    decides_by: Literal["p_value", "statistic"] = "statistic"
    default_threshold: float = 0.1
    description: str = ""


_STATISTICS: dict[tuple[str, str], Statistic] = {}


def register_statistic(statistic: Statistic) -> Statistic:
    """Add (or replace) ``statistic`` for its kind; every comparison of that kind computes it."""
    if statistic.kind not in KINDS:
        raise InvalidInput(
            f"a drift statistic's kind is numeric or categorical, not {statistic.kind!r}",
            field="kind",
        )
    if not statistic.name.isidentifier():
        raise InvalidInput(
            f"a drift statistic's name must be an identifier, not {statistic.name!r}",
            field="name",
        )
    _STATISTICS[(statistic.name, statistic.kind)] = statistic
    return statistic


def unregister_statistic(name: str, kind: str) -> None:
    _STATISTICS.pop((name, kind), None)


def statistics_for(kind: str) -> list[Statistic]:
    """Every statistic registered for ``kind``, in registration order."""
    return [s for (_, k), s in _STATISTICS.items() if k == kind]


def get_statistic(name: str, kind: str) -> Statistic:
    try:
        return _STATISTICS[(name, kind)]
    except KeyError:
        known = sorted({n for n, _ in _STATISTICS})
        if name in known:
            raise InvalidInput(
                f"drift test {name!r} does not apply to {kind} columns", field="test"
            ) from None
        raise InvalidInput(
            f"unknown drift test {name!r}; known: {', '.join(known)}", field="test"
        ) from None


def statistic_names() -> list[str]:
    return sorted({n for n, _ in _STATISTICS})
