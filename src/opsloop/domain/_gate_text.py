"""Reading a gate file and writing its verdicts: YAML options, the rule grammar, numbers.

Kept apart from the entities so ``evaluation.py`` reads as the model and the judge.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal, get_args

from opsloop.domain import _yaml
from opsloop.domain.errors import InvalidInput
from opsloop.domain.numbers import is_number

Op = Literal[">=", "<=", ">", "<", "=="]
OPS: tuple[str, ...] = get_args(Op)
# Operators people type by mistake are matched too, so they get a precise error.
_OP_RE = re.compile(r">=|<=|==|=>|=<|!=|<>|>|<|=")
_METRIC_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(rf"[+-]?{_NUMBER}")
_TOKEN_RE = re.compile(rf"\s*(?:({_NUMBER})|([A-Za-z_][A-Za-z0-9_]*)|(\S))")
# Short names people write in rules, and the metric each one means.
ALIASES = {"auc": "roc_auc"}
_THRESHOLD_FORMS = "a number, 'champion', 'champion + x', 'champion - x' or 'champion * x'"


def _invalid(headline: str) -> InvalidInput:
    return InvalidInput(headline, field="gate")


def load_mapping(text: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The gate file as a mapping holding only ``allowed`` keys."""
    return _yaml.load_mapping(
        text, allowed, "gate", "a YAML mapping of options and 'rules:' (see the example)"
    )


def text_option(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"gate option '{key}' must be non-empty text, got {value!r}")
    return value


def choice_option(data: dict[str, Any], key: str, choices: tuple[str, ...]) -> str | None:
    value = text_option(data, key)
    if value is not None and value not in choices:
        raise _invalid(f"gate option '{key}' is {value!r} (expected one of {', '.join(choices)})")
    return value


def count_option(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid(f"gate option '{key}' must be a whole number >= 1, got {value!r}")
    return value


def number_option(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if not is_number(value):
        raise _invalid(f"gate option '{key}' must be a number, got {value!r}")
    return float(value)


def label_option(data: dict[str, Any], key: str) -> bool | int | float | str | None:
    value = data.get(key)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise _invalid(f"gate option '{key}' must be one label (text or a number), got {value!r}")


def costs_option(data: dict[str, Any]) -> dict[str, float] | None:
    value = data.get("costs")
    if value is None:
        return None
    expected = ("false_positive", "false_negative")
    if not isinstance(value, dict) or sorted(map(str, value)) != sorted(expected):
        raise _invalid(
            f"gate option 'costs' must be a mapping with exactly {' and '.join(expected)}, "
            f"got {value!r}"
        )
    costs: dict[str, float] = {}
    for name in expected:
        cost = value[name]
        if not is_number(cost) or cost < 0:
            raise _invalid(f"gate option 'costs': {name} must be a number >= 0, got {cost!r}")
        costs[name] = float(cost)
    return costs


def rule_texts(data: dict[str, Any]) -> list[str]:
    value = data.get("rules")
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(f"gate 'rules' must be a list of rules written as text, got {value!r}")
    for number, item in enumerate(value, start=1):
        if not isinstance(item, str):
            raise _invalid(
                f"gate rule {number} {item!r}: expected text such as 'recall >= 0.85' "
                "(quote it if YAML read it as something else)"
            )
    return value


def parse_rule(text: str, number: int) -> dict[str, Any]:
    """The fields of one ``Rule``; ``InvalidInput`` naming the rule's number and text."""

    def bad(reason: str) -> InvalidInput:
        return _invalid(f'gate rule {number} "{text}": {reason}')

    words = text.split()
    if not words:
        raise bad("the rule is empty")
    if words[0] == "signature":
        if words[1:] != ["compatible"]:
            raise bad("write the signature rule as 'signature compatible'")
        return {"kind": "signature", "metric": "signature", "op": None, "reference": "absolute"}
    found = _OP_RE.search(text)
    if found is None:
        raise bad(f"no comparison found (expected METRIC OP THRESHOLD, OP one of {' '.join(OPS)})")
    op = found.group()
    if op not in OPS:
        raise bad(f"unknown operator '{op}' (expected one of {', '.join(OPS)})")
    left, right = text[: found.start()].strip(), text[found.end() :].strip()
    if _OP_RE.search(right):
        raise bad("more than one comparison (write one rule per line)")
    per_segment = False
    if _NUMBER_RE.fullmatch(left):
        raise bad("put the metric on the left and the threshold on the right")
    if "." in left:
        prefix, _, left = left.partition(".")
        if prefix != "segments":
            raise bad(f"unknown prefix '{prefix}.' (expected 'segments.' or a bare metric name)")
        per_segment = True
    if not left:
        raise bad(f"missing metric name before '{op}'")
    if not _METRIC_RE.fullmatch(left):
        raise bad(
            f"metric name '{left}' must start with a letter and hold only letters, digits, '_'"
        )
    metric = ALIASES.get(left, left)
    return {"metric": metric, "op": op, "per_segment": per_segment, **_threshold(right, op, bad)}


def _threshold(right: str, op: str, bad: Any) -> dict[str, Any]:
    if not right:
        raise bad(f"missing threshold after '{op}'")
    shape, numbers = "", []
    for number, word, other in _TOKEN_RE.findall(right):
        if word and word != "champion":
            raise bad(f"unknown word '{word}' (expected a number or 'champion')")
        if number:
            numbers.append(float(number))
        shape += "n" if number else "c" if word else other
    if shape in ("n", "+n", "-n"):
        return {"reference": "absolute", "value": -numbers[0] if shape == "-n" else numbers[0]}
    if shape == "c":
        return {"reference": "champion"}
    if shape in ("c+n", "c-n"):
        return {"reference": "champion", "offset": numbers[0] * (-1 if shape == "c-n" else 1)}
    if shape == "c*n":
        return {"reference": "champion", "factor": numbers[0]}
    raise bad(f"cannot read the threshold '{right}' (expected {_THRESHOLD_FORMS})")


NEGATED = {">=": "<", "<=": ">", ">": "<=", "<": ">=", "==": "!="}


def compare(value: float, op: str, threshold: float) -> bool:
    if op == ">=":
        return value >= threshold
    if op == "<=":
        return value <= threshold
    if op == ">":
        return value > threshold
    if op == "<":
        return value < threshold
    return value == threshold


def margin(value: float, op: str, threshold: float) -> float:
    """How far ``value`` is on the good side of ``threshold`` (negative: the wrong side)."""
    if op in (">=", ">"):
        return value - threshold
    if op in ("<=", "<"):
        return threshold - value
    return -abs(value - threshold)


def decimals(value: float, threshold: float) -> int:
    """At least three decimals and all of the threshold's own (0.8735 is not shown as 0.874),
    then more until two different numbers read different. Ten significant digits hide float
    noise such as 0.812 - 0.01 = 0.8020000000000001."""
    shortest = f"{threshold:.10g}"
    written = len(shortest.partition(".")[2]) if "e" not in shortest else 3
    for places in range(max(3, min(written, 12)), 13):
        if value == threshold or f"{value:.{places}f}" != f"{threshold:.{places}f}":
            return places
    return 12


def number(value: float, places: int = 3) -> str:
    return f"{value:.{places}f}"


def constant(value: float) -> str:
    """An offset or a factor, as short as the user wrote it."""
    return f"{value:g}"
