"""``opsloop server``: uvicorn over ``create_app``."""

from __future__ import annotations

import ipaddress

from opsloop.cli._context import CliState
from opsloop.cli._output import console, fail


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(state: CliState, host: str | None, port: int | None) -> None:
    import uvicorn

    from opsloop.server.app import create_app

    options = dict(state.options)
    options.update({"host": host, "port": port})
    settings = state.settings().__class__.load(**options)
    if not is_loopback(settings.host):
        fail(
            f"refusing to bind {settings.host}: opsloop has no authentication yet, so it "
            "only listens on loopback (127.0.0.1, ::1)"
        )
    app = create_app(settings)
    console().print(
        f"opsloop server on http://{settings.host}:{settings.port} "
        f"(database {settings.database_url.split('://', 1)[0]}, "
        f"artifacts {settings.artifacts})"
    )
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except OSError as exc:  # pragma: no cover - the port is taken
        fail(f"cannot listen on {settings.host}:{settings.port}: {exc}")
