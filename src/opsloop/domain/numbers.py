"""What counts as a number in what people send: the one test for gate and monitor options,
grades in feedback, and the numbers a pipeline or a review record carries."""

from __future__ import annotations

import math
from typing import Any


def is_number(value: Any) -> bool:
    """A finite number, not true/false (YAML reads ``yes`` as true, JSON has both)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)
