"""Alerts and what they do: rules judged over monitor values, notifiers, actions."""

from opsloop.services.alerts.service import AlertService

__all__ = ["AlertService"]
