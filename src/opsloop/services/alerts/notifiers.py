"""Telling people: a JSON webhook (opsloop's payload, or Slack's ``{"text": ...}``) and the
server log. A delivery that fails is an outcome to record, never an exception."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from opsloop.domain.alerts import ActionRecord, Alert, AlertState, NotifierSpec, Severity
from opsloop.store.repos._time import at, now

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("opsloop.alerts")

_LEVELS = {
    Severity.INFO: logging.INFO,
    Severity.WARNING: logging.WARNING,
    Severity.CRITICAL: logging.ERROR,
}


def message(alert: Alert) -> str:
    """One line for people: what fired (or resolved), the value, and what was done."""
    value = "no value" if alert.value is None else f"{alert.value:.6g}"
    if alert.state is AlertState.RESOLVED:
        why = f": {alert.resolution}" if alert.resolution else ""
        return (
            f"[RESOLVED] {alert.endpoint}: alert {alert.rule} ({alert.severity.value}, "
            f"{alert.condition}) resolved{why}"
        )
    text = (
        f"[{alert.severity.value.upper()}] {alert.endpoint}: alert {alert.rule} fired: "
        f"{alert.metric} = {value} ({alert.condition}), window ending "
        f"{alert.window_end:%Y-%m-%d %H:%M:%S} UTC"
    )
    done = [record for record in alert.actions if not record.action.startswith("notify")]
    for record in done:
        text += f"; {record.action}: {'done' if record.ok else 'FAILED'}"
        text += f" ({record.detail})" if record.detail else ""
    return text


def payload(spec: NotifierSpec, alert: Alert) -> dict[str, Any]:
    """What a webhook receives: Slack's shape, or the alert in full with its message."""
    text = message(alert)
    if spec.format == "slack":
        return {"text": text}
    kind = "alert.resolved" if alert.state is AlertState.RESOLVED else "alert.fired"
    return {"event": kind, "text": text, "alert": alert.model_dump(mode="json")}


def deliver(spec: NotifierSpec, alert: Alert, http: httpx.Client | None = None) -> ActionRecord:
    """Send ``alert`` to one notifier and say how it went."""
    action = f"notify {spec.describe()}"
    if spec.kind == "log":
        level = logging.INFO if alert.state is AlertState.RESOLVED else _LEVELS[alert.severity]
        logger.log(level, "%s", message(alert))
        return ActionRecord(action=action, ok=True, time=at(now()))
    ok, detail, data = _post(spec, payload(spec, alert), http)
    if not ok:
        logger.warning("alert %s on %s: %s failed: %s", alert.id, alert.endpoint, action, detail)
    return ActionRecord(action=action, ok=ok, detail=detail, time=at(now()), data=data)


def _post(
    spec: NotifierSpec, body: dict[str, Any], http: httpx.Client | None
) -> tuple[bool, str, dict[str, Any]]:
    import httpx

    assert spec.url is not None
    try:
        if http is None:
            response = httpx.post(spec.url, json=body, timeout=spec.timeout_s)
        else:
            response = http.post(spec.url, json=body, timeout=spec.timeout_s)
    except httpx.TimeoutException:
        return False, f"no answer within {spec.timeout_s:g} s", {}
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        # The URL may hold the hook's secret: keep it out of what is stored.
        reason = str(exc).replace(spec.url, spec.describe()) or type(exc).__name__
        return False, f"could not post: {reason}", {}
    status = response.status_code
    if not 200 <= status < 300:
        return False, f"the webhook answered HTTP {status}", {"status": status}
    return True, f"HTTP {status}", {"status": status}
