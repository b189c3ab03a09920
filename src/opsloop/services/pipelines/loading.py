"""Importing the user's pipeline modules named by the ``pipelines`` setting.

Each item is a module name (``acme.pipelines``) or a path to a ``.py`` file. Importing it runs
its ``@opsloop.pipeline`` decorators, which register the pipelines. Each item is imported once
per process.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

from opsloop.domain.errors import InvalidInput

_loaded: set[str] = set()
_lock = threading.Lock()


def items_of(setting: str) -> list[str]:
    return [item.strip() for item in setting.split(",") if item.strip()]


def load_pipelines(setting: str) -> list[str]:
    """Import every module the setting names (those not imported yet); return the items."""
    items = items_of(setting)
    with _lock:
        for item in items:
            if item not in _loaded:
                _import(item)
                _loaded.add(item)
    return items


def _import(item: str) -> ModuleType:
    try:
        if item.endswith(".py") or "/" in item:
            return _import_file(Path(item))
        return importlib.import_module(item)
    except InvalidInput:
        raise
    except Exception as exc:  # the user's module: any error it raises is a bad setting
        raise InvalidInput(
            f"pipelines module {item!r} could not be loaded: {type(exc).__name__}: {exc}",
            field="pipelines",
        ) from exc


def _import_file(path: Path) -> ModuleType:
    import cloudpickle

    if not path.is_file():
        raise InvalidInput(f"pipelines file {str(path)!r} does not exist", field="pipelines")
    resolved = path.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    name = f"opsloop_pipelines_{resolved.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"pipelines file {str(path)!r} is not a module", field="pipelines")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    # No other process can import it by this made-up name: its functions travel by value to
    # the process executor's workers.
    cloudpickle.register_pickle_by_value(module)
    return module
