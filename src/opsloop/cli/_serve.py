"""``opsloop server``: uvicorn over ``create_app``."""

from __future__ import annotations

import ipaddress
import sys

from opsloop.cli._context import CliState
from opsloop.cli._output import console, fail

SWITCH_INTERVAL_S = 0.0005


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    state: CliState,
    host: str | None,
    port: int | None,
    auth: bool | None,
    only: str | None = None,
) -> None:
    import uvicorn

    from opsloop.server.app import create_app

    options = dict(state.options)
    options.update({"host": host, "port": port, "auth": auth})
    settings = state.settings().__class__.load(**options)
    if settings.url:
        fail("a server uses its own store: unset OPSLOOP_URL / --url to run one")
    if not is_loopback(settings.host) and not settings.auth:
        fail(
            f"refusing to bind {settings.host} with authentication off: anyone who can reach "
            "it could deploy models. Use --auth (and `opsloop tokens create`), or a loopback "
            "address (127.0.0.1)"
        )
    app = create_app(settings, serve_only=None if only is None else [only])
    what = f"endpoint {only}" if only else "opsloop server"
    console().print(
        f"{what} on http://{settings.host}:{settings.port} "
        f"(database {settings.database_url.split('://', 1)[0]}, "
        f"artifacts {settings.artifacts}, auth {'on' if settings.auth else 'off'})"
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )
    # The event loop and the models' batching threads hand the GIL back and forth on every
    # batch; Python's default 5 ms switch interval would leave a ready batch waiting.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    server = uvicorn.Server(config)
    try:
        server.run()
    except OSError as exc:  # pragma: no cover - the port is taken
        fail(f"cannot listen on {settings.host}:{settings.port}: {exc}")
