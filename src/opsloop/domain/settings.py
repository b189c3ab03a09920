"""opsloop's settings: one typed object, built once and passed in.

Precedence, highest first — the one place it is written down:

1. arguments given to ``Settings.load(...)`` (the CLI's options, the SDK's keyword arguments);
2. the environment: ``OPSLOOP_HOME``, ``OPSLOOP_DATABASE_URL``, ``OPSLOOP_ARTIFACTS``,
   ``OPSLOOP_URL``, ``OPSLOOP_ACTOR``, ``OPSLOOP_HOST``, ``OPSLOOP_PORT``;
3. the config file: ``OPSLOOP_CONFIG`` if set, else ``<home>/config.toml`` (keys without the
   ``OPSLOOP_`` prefix, lower case: ``database_url = "postgresql://..."``);
4. defaults: home ``./.opsloop``, SQLite at ``<home>/opsloop.db``, artifacts in
   ``<home>/artifacts``, embedded (no URL), actor = the OS user, 127.0.0.1:8080.
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


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    artifacts: str
    url: str | None
    actor: str
    host: str
    port: int

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

        port = pick("port", 8080)
        if isinstance(port, bool | float):
            raise InvalidInput(f"port must be a whole number, not {port!r}", field="port")
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise InvalidInput(f"port must be a whole number, not {port!r}", field="port") from None
        if not 0 <= port <= MAX_PORT:
            raise InvalidInput(f"port must be between 0 and {MAX_PORT}, not {port}", field="port")
        url = pick("url", None)
        return cls(
            home=home,
            database_url=str(pick("database_url", f"sqlite:///{home / 'opsloop.db'}")),
            artifacts=str(pick("artifacts", str(home / "artifacts"))),
            url=str(url).rstrip("/") if url else None,
            actor=str(pick("actor", _os_user())),
            host=str(pick("host", "127.0.0.1")),
            port=port,
        )


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
