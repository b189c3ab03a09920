"""Alerts through the API: list, show, resolve by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsloop.domain.alerts import Alert

if TYPE_CHECKING:
    from opsloop.sdk.client import Client


def list_alerts(
    client: Client,
    endpoint: str | None = None,
    state: str = "all",
    limit: int = 100,
) -> list[Alert]:
    """Newest first; ``state``: firing, resolved or all."""
    params: dict[str, str | int] = {"state": state, "limit": limit}
    if endpoint is not None:
        params["endpoint"] = endpoint
    return [Alert.model_validate(a) for a in client._json("GET", "/alerts", params=params)]


def get_alert(client: Client, alert_id: int) -> Alert:
    return Alert.model_validate(client._json("GET", f"/alerts/{int(alert_id)}"))


def resolve_alert(client: Client, alert_id: int, reason: str = "") -> Alert:
    """Close an open alert by hand; ``reason`` is kept with it."""
    return Alert.model_validate(
        client._json("POST", f"/alerts/{int(alert_id)}/resolve", json={"reason": reason})
    )
