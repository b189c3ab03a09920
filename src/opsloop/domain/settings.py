"""opsloop's settings: one typed object, built once and passed in.

Precedence, highest first — the one place it is written down:

1. arguments given to ``Settings.load(...)`` (the CLI's options, the SDK's keyword arguments);
2. the environment: ``OPSLOOP_`` + the field name in capitals (``OPSLOOP_HOME``,
   ``OPSLOOP_DATABASE_URL``, ``OPSLOOP_TOKEN``, ...);
3. the config file: ``OPSLOOP_CONFIG`` if set, else ``<home>/config.toml`` (keys without the
   ``OPSLOOP_`` prefix, lower case: ``database_url = "postgresql://..."``);
4. defaults: home ``./.opsloop``, SQLite at ``<home>/opsloop.db``, artifacts in
   ``<home>/artifacts``, the prediction log in ``<home>/predictions`` (no fsync), embedded
   (no URL), no token, actor = the OS user, 127.0.0.1:8080, auth off, batches of up to 256 rows,
   pipeline steps run inline, no pipeline modules to load.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from opsloop.domain.errors import InvalidInput

ENV_PREFIX = "OPSLOOP_"
MAX_PORT = 65535
MAX_BATCH = 100_000
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    artifacts: str
    url: str | None
    actor: str
    host: str
    port: int
    predictions: Path
    predictions_fsync: bool
    auth: bool
    token: str | None
    max_batch: int
    executor: str
    pipelines: str
    scheduler: bool
    scheduler_tick_s: float

    @property
    def remote(self) -> bool:
        return self.url is not None

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **arguments: Any) -> Settings:
        """Build settings from arguments, ``environ`` (default ``os.environ``), file, defaults."""
        env = os.environ if environ is None else environ
        unknown = set(arguments) - {f.name for f in fields(cls)}
        if unknown:
            raise InvalidInput(f"unknown setting {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
        given = {key: value for key, value in arguments.items() if value is not None}
        from_env = {
            f.name: env[ENV_PREFIX + f.name.upper()]
            for f in fields(cls)
            if env.get(ENV_PREFIX + f.name.upper())
        }
        home = Path(given.get("home") or from_env.get("home") or ".opsloop")
        named_config = env.get(ENV_PREFIX + "CONFIG")
        if named_config and not Path(named_config).is_file():
            raise InvalidInput(
                f"config file {named_config} (OPSLOOP_CONFIG) does not exist",
                field="OPSLOOP_CONFIG",
            )
        from_file = _read_config(Path(named_config or home / "config.toml"))
        if "home" in from_file and "home" not in given and "home" not in from_env:
            home = Path(from_file["home"])

        def pick(name: str, default: Any) -> Any:
            for layer in (given, from_env, from_file):
                if name in layer:
                    return layer[name]
            return default

        port = _whole(pick("port", 8080), "port", 0, MAX_PORT)
        url = pick("url", None)
        token = pick("token", None)
        return cls(
            home=home,
            database_url=str(pick("database_url", f"sqlite:///{home / 'opsloop.db'}")),
            artifacts=str(pick("artifacts", str(home / "artifacts"))),
            url=str(url).rstrip("/") if url else None,
            actor=str(pick("actor", _os_user())),
            host=str(pick("host", "127.0.0.1")),
            port=port,
            predictions=Path(pick("predictions", home / "predictions")),
            predictions_fsync=_boolean(pick("predictions_fsync", False), "predictions_fsync"),
            auth=_boolean(pick("auth", False), "auth"),
            token=str(token) if token else None,
            max_batch=_whole(pick("max_batch", 256), "max_batch", 1, MAX_BATCH),
            executor=_text(pick("executor", "inline"), "executor"),
            pipelines=_listing(pick("pipelines", ""), "pipelines"),
            scheduler=_boolean(pick("scheduler", True), "scheduler"),
            scheduler_tick_s=_seconds(
                pick("scheduler_tick_s", 5.0), "scheduler_tick_s", 0.05, 3600
            ),
        )


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool | float):
        raise InvalidInput(f"{name} must be a whole number, not {value!r}", field=name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a whole number, not {value!r}", field=name) from None
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, not {number}", field=name)
    return number


def _seconds(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a number of seconds, not {value!r}", field=name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{name} must be a number of seconds, not {value!r}", field=name
        ) from None
    if not low <= number <= high:
        raise InvalidInput(
            f"{name} must be between {low:g} and {high:g} s, not {number:g}", field=name
        )
    return number


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be non-empty text, not {value!r}", field=name)
    return value.strip()


def _listing(value: Any, name: str) -> str:
    """Comma-separated text; the config file may give a list."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be comma-separated text, not {value!r}", field=name)
    return value


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise InvalidInput(f"{name} must be true or false, not {value!r}", field=name)


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(
            f"config file {path} is not valid TOML: {exc}", field=str(path)
        ) from None
    known = {f.name for f in fields(Settings)}
    unknown = set(data) - known
    if unknown:
        raise InvalidInput(
            f"config file {path} has unknown setting {sorted(unknown)[0]!r}", field=str(path)
        )
    return data


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
