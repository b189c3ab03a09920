"""Monitors through the API: set one on an endpoint, run it, read its values."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsloop.domain.monitoring import Monitor, MonitorValue, WindowResult
from opsloop.sdk._files import text_or_file

if TYPE_CHECKING:
    from opsloop.sdk.client import Client


def set_monitor(client: Client, endpoint: str, config: str | Path) -> Monitor:
    """Set (or replace) ``endpoint``'s monitor: YAML text, or a path to a YAML file."""
    body = {"config": text_or_file(config)}
    return Monitor.model_validate(client._json("PUT", f"/endpoints/{endpoint}/monitor", json=body))


def get_monitor(client: Client, endpoint: str) -> Monitor:
    return Monitor.model_validate(client._json("GET", f"/endpoints/{endpoint}/monitor"))


def run_monitor(
    client: Client,
    endpoint: str,
    *,
    until: datetime | None = None,
    since: datetime | None = None,
) -> list[WindowResult]:
    """Compute every window closed since the last one computed (``since``: again from the
    window holding that time); what each window gave."""
    body = {
        key: value.isoformat()
        for key, value in (("until", until), ("since", since))
        if value is not None
    }
    found = client._json("POST", f"/endpoints/{endpoint}/monitor/run", json=body)
    return [WindowResult.model_validate(item) for item in found]


def monitor_values(
    client: Client,
    endpoint: str,
    *,
    metric: str | None = None,
    prefix: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[MonitorValue]:
    """Stored values oldest window first: one ``metric`` or those starting with ``prefix``,
    windows ending after ``since``, the last ``limit`` windows."""
    query: dict[str, Any] = {"metric": metric, "prefix": prefix, "limit": limit}
    if since is not None:
        query["since"] = since.isoformat()
    params = {key: value for key, value in query.items() if value is not None}
    found = client._json("GET", f"/endpoints/{endpoint}/monitor/values", params=params)
    return [MonitorValue.model_validate(item) for item in found]
