"""Policy files (gates now; monitors and review policies alike) read as strict YAML.

PyYAML is imported on the first read, not when the domain is: a CLI command that never reads
a policy should not pay for it.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any

from opsloop.domain.errors import InvalidInput

KeyPath = tuple[str | int, ...]  # keys of mappings, indexes of lists
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class BadKey(Exception):
    """A bad value under ``path``: becomes one InvalidInput naming the key and its line."""

    def __init__(self, path: KeyPath, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def key_error(text: str, path: KeyPath, reason: str, what: str) -> InvalidInput:
    """The error for a bad value under ``path`` of the ``what`` YAML ``text``: it names the
    key and, where the YAML shows it, the line (``what`` is also the error's field)."""
    line = line_of(text, path)
    where = f" (line {line})" if line is not None else ""
    return InvalidInput(f"{what} key '{shown(path)}'{where}: {reason}", field=what)


def shown(path: KeyPath) -> str:
    """``rules[1].score_above``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def line_of(text: str, path: KeyPath) -> int | None:
    """The 1-based line of the key (or list entry) at ``path``, if the YAML shows it."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in path:
        if isinstance(part, int) and isinstance(node, yaml.SequenceNode):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if getattr(key_node, "value", None) == part:
                line, node = key_node.start_mark.line + 1, value_node
                break
        else:
            break
    return line


def duration_s(value: Any) -> float | None:
    """Seconds of a duration written as a number of seconds or as 30s, 15m, 1h, 1d; None
    when it is neither (or not finite)."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (found := _DURATION.fullmatch(value)) is not None:
        seconds = float(found.group(1)) * _UNITS[found.group(2)]
    return seconds if seconds is not None and math.isfinite(seconds) else None


def load_mapping(text: str, allowed: tuple[str, ...], what: str, shape: str) -> dict[str, Any]:
    """``text`` as a mapping holding only ``allowed`` keys; errors name ``what`` (also the
    error's field) and, when it is not a mapping, say it should be ``shape``."""
    import yaml

    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be YAML text", field=what)
    try:
        data = yaml.load(text, Loader=_strict_loader(what))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInput(f"{what} is not valid YAML{where}: {problem}", field=what) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be {shape}", field=what)
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise InvalidInput(
            f"{what} has unknown key(s) {', '.join(repr(key) for key in unknown)} "
            f"(allowed: {', '.join(allowed)})",
            field=what,
        )
    return data


@cache
def _strict_loader(what: str) -> Any:
    """A SafeLoader that refuses a key written twice: a second ``rules:`` would drop the
    first without a word."""
    import yaml

    def mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable: construct_mapping below says so
                continue
            if duplicate:
                line = key_node.start_mark.line + 1
                raise InvalidInput(
                    f"{what} key {key!r} is written twice (again at line {line})", field=what
                )
            seen.add(key)
        return loader.construct_mapping(node)

    class StrictLoader(yaml.SafeLoader):
        pass

    StrictLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping_without_duplicates
    )
    return StrictLoader
