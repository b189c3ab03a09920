"""Policy files (gates now; monitors and review policies alike) read as strict YAML.

PyYAML is imported on the first read, not when the domain is: a CLI command that never reads
a policy should not pay for it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from opsloop.domain.errors import InvalidInput


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
