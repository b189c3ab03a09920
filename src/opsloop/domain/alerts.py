"""Alert rules on monitored values, where alerts are sent, and the alerts themselves.

A monitor's YAML carries both lists (the grammar is in docs/alerts.md)::

    alerts:
      - {name: drift, when: "drift.share_drifted > 0.3", for: 2, severity: warning,
         action: "pipeline retrain"}
      - {name: accuracy, when: "performance.accuracy < 0.8", severity: critical,
         action: rollback}
    notify:
      - {webhook: "https://hooks.example.com/T0/B0", format: slack, timeout_s: 5}
      - log

``parse_rules`` and ``parse_notifiers`` check them; a bad entry is one
``InvalidInput(field="monitor")`` naming the entry's number and key.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from opsloop.domain.entities import Entity
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import KEY_PATTERN, NAME_PATTERN

RULE_KEYS = ("name", "when", "for", "severity", "action")
WEBHOOK_KEYS = ("webhook", "format", "timeout_s")
MAX_FOR = 1000
MAX_TIMEOUT_S = 60.0
DEFAULT_TIMEOUT_S = 5.0
MAX_URL = 2000

Operator = Literal[">", ">=", "<", "<=", "=="]
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}
Verdict = Literal["breached", "healthy", "pending"]
_WHEN = re.compile(r"\s*(\S+?)\s*(>=|<=|==|>|<)\s*(\S+)\s*")
# Performance figures from a window with too few labels are flagged uncertain by the monitor;
# these describe the labels themselves, so they count whatever the flag says.
_LABEL_FIGURES = frozenset({"labels", "label_coverage", "label_delay_s", "uncertain"})


def uncertain_flag_of(metric: str) -> str | None:
    """The flag that marks a monitored metric's windows as not to be trusted, if it rests on
    labels (``performance.uncertain`` for ``performance.accuracy``; canary figures likewise)."""
    prefix = "canary." if metric.startswith("canary.") else ""
    group, _, figure = metric.removeprefix(prefix).partition(".")
    if group != "performance" or figure in _LABEL_FIGURES:
        return None
    return f"{prefix}performance.uncertain"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class ActionKind(StrEnum):
    NOTIFY = "notify"
    ROLLBACK = "rollback"
    PIPELINE = "pipeline"


class AlertRule(Entity):
    """Fire when ``metric op threshold`` holds in ``for_windows`` counted windows in a row."""

    name: str
    metric: str
    op: Operator
    threshold: float
    for_windows: int = Field(default=1, ge=1, le=MAX_FOR)
    severity: Severity = Severity.WARNING
    action: ActionKind = ActionKind.NOTIFY
    pipeline: str | None = Field(default=None, description="for action pipeline: its name")

    @property
    def condition(self) -> str:
        """``drift.share_drifted > 0.3 for 2 windows``."""
        text = f"{self.metric} {self.op} {number_text(self.threshold)}"
        return text if self.for_windows == 1 else f"{text} for {self.for_windows} windows"

    @property
    def action_text(self) -> str:
        """The action as written: ``notify``, ``rollback`` or ``pipeline NAME``."""
        return f"pipeline {self.pipeline}" if self.pipeline else self.action.value

    @property
    def uncertain_metric(self) -> str | None:
        return uncertain_flag_of(self.metric)

    def breached(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.threshold)

    def to_entry(self) -> dict[str, Any]:
        """The rule as a YAML entry: ``parse_rules([rule.to_entry()]) == [rule]``."""
        return {
            "name": self.name,
            "when": f"{self.metric} {self.op} {number_text(self.threshold)}",
            "for": self.for_windows,
            "severity": self.severity.value,
            "action": self.action_text,
        }


class NotifierSpec(Entity):
    """Where alerts are sent: a webhook (JSON, or Slack's ``{"text": ...}``) or the log."""

    kind: Literal["webhook", "log"]
    url: str | None = None
    format: Literal["json", "slack"] = "json"
    timeout_s: float = DEFAULT_TIMEOUT_S

    def describe(self) -> str:
        """For records and logs: a webhook's path often holds its secret, so only the
        scheme and host are shown."""
        if self.kind == "log" or self.url is None:
            return "log"
        return f"webhook {shown_url(self.url)} ({self.format})"


def shown_url(url: str) -> str:
    """A webhook URL as it may be shown to anyone: scheme and host; the rest is secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"


class ActionRecord(Entity):
    """One thing done about an alert (an action or a notification) and how it went."""

    action: str = Field(description="rollback, pipeline NAME, notify webhook …, notify log")
    ok: bool
    detail: str = ""
    time: datetime
    data: dict[str, Any] = Field(default_factory=dict)


class Alert(Entity):
    """One firing of a rule on an endpoint; at most one per endpoint and rule is open."""

    id: int
    endpoint: str
    project: str
    rule: str
    severity: Severity
    state: AlertState
    condition: str = Field(description="the rule when it fired: metric op threshold [for N]")
    action: str = Field(description="what the rule asked for: notify, rollback, pipeline NAME")
    metric: str
    value: float | None = Field(description="the value that fired it")
    threshold: float
    window_end: datetime = Field(description="end of the window that fired it")
    fired_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str = Field(default="", description="why it was resolved")
    actions: list[ActionRecord] = Field(default_factory=list)


def number_text(value: float) -> str:
    """A threshold as written back: ``0.3``, ``5``, ``1e-06``."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def judge(
    rule: AlertRule, windows: Sequence[tuple[float, float | None]], after: float | None = None
) -> tuple[Verdict, int | None]:
    """What a rule makes of its windows, given newest first as ``(window_end, value)`` with
    None for a window that does not count (missing, or flagged uncertain).

    Returns ``("breached", i)`` when the newest ``for_windows`` counted windows all breach
    (``i``: the newest of them), ``("healthy", i)`` when the newest counted window does not
    breach, else ``("pending", None)``: too few counted windows to say. Windows ending at or
    before ``after`` are not counted toward a firing (they were judged already).
    """
    streak = 0
    newest: int | None = None
    for index, (window_end, value) in enumerate(windows):
        if value is None:
            continue
        if not rule.breached(value):
            return ("healthy", index) if newest is None else ("pending", None)
        if after is not None and window_end <= after:
            break
        if newest is None:
            newest = index
        streak += 1
        if streak == rule.for_windows:
            return "breached", newest
    return "pending", None


# -- parsing --------------------------------------------------------------------------------


def parse_rules(data: Any) -> list[AlertRule]:
    """A monitor's ``alerts:`` list (None: no rules) as checked rules with unique names."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidInput(
            f"monitor alerts must be a list of rules, got {_shown(data)}", field="monitor"
        )
    rules: list[AlertRule] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(data, start=1):
        rule = _rule(number, entry)
        if rule.name in seen:
            raise _bad_rule(
                number, "name", f"{rule.name!r} is also the name of rule {seen[rule.name]}"
            )
        seen[rule.name] = number
        rules.append(rule)
    return rules


def parse_notifiers(data: Any) -> list[NotifierSpec]:
    """A monitor's ``notify:`` list (None: nobody is notified)."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidInput(
            f"monitor notify must be a list of notifiers, got {_shown(data)}", field="monitor"
        )
    return [_notifier(number, entry) for number, entry in enumerate(data, start=1)]


def _rule(number: int, entry: Any) -> AlertRule:
    if not isinstance(entry, dict):
        raise InvalidInput(
            f"monitor alerts entry {number}: must be a mapping with name and when, "
            f"got {_shown(entry)}",
            field="monitor",
        )
    unknown = sorted(str(key) for key in entry if key not in RULE_KEYS)
    if unknown:
        raise _bad_rule(number, unknown[0], f"is not a rule key (allowed: {', '.join(RULE_KEYS)})")
    for key in ("name", "when"):
        if key not in entry:
            raise _bad_rule(number, key, "is required")
    name = entry["name"]
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise _bad_rule(
            number,
            "name",
            f"must start with a letter or digit and hold only letters, digits, '_', '.', '-' "
            f"(at most 128 characters), got {_shown(name)}",
        )
    metric, op, threshold = _when(number, entry["when"])
    for_windows = entry.get("for", 1)
    if isinstance(for_windows, bool) or not isinstance(for_windows, int):
        raise _bad_rule(
            number, "for", f"must be a whole number of windows, got {_shown(for_windows)}"
        )
    if not 1 <= for_windows <= MAX_FOR:
        raise _bad_rule(number, "for", f"must be from 1 to {MAX_FOR} windows, got {for_windows}")
    severity = entry.get("severity", Severity.WARNING.value)
    if severity not in {s.value for s in Severity}:
        raise _bad_rule(
            number,
            "severity",
            f"must be one of {', '.join(s.value for s in Severity)}, got {_shown(severity)}",
        )
    action, pipeline = _action(number, entry.get("action", ActionKind.NOTIFY.value))
    return AlertRule(
        name=name,
        metric=metric,
        op=op,  # type: ignore[arg-type]  # one of OPERATORS, by the pattern
        threshold=threshold,
        for_windows=for_windows,
        severity=Severity(severity),
        action=action,
        pipeline=pipeline,
    )


def _when(number: int, value: Any) -> tuple[str, str, float]:
    shape = "must read METRIC OP NUMBER with OP one of > >= < <= == (drift.share_drifted > 0.3)"
    found = _WHEN.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise _bad_rule(number, "when", f"{shape}, got {_shown(value)}")
    metric, op, text = found.groups()
    if not KEY_PATTERN.fullmatch(metric) or "/" in metric or " " in metric:
        raise _bad_rule(
            number,
            "when",
            f"metric {metric!r} must hold only letters, digits, '_', '.', '-' "
            "(at most 250 characters)",
        )
    try:
        threshold = float(text)
    except ValueError:
        raise _bad_rule(number, "when", f"{shape}; {text!r} is not a number") from None
    if not math.isfinite(threshold):
        raise _bad_rule(number, "when", f"the threshold must be a finite number, got {text!r}")
    return metric, op, threshold


def _action(number: int, value: Any) -> tuple[ActionKind, str | None]:
    words = value.split() if isinstance(value, str) else []
    if words == ["notify"]:
        return ActionKind.NOTIFY, None
    if words == ["rollback"]:
        return ActionKind.ROLLBACK, None
    if len(words) == 2 and words[0] == "pipeline":
        if not NAME_PATTERN.fullmatch(words[1]):
            raise _bad_rule(number, "action", f"{words[1]!r} is not a pipeline name")
        return ActionKind.PIPELINE, words[1]
    raise _bad_rule(
        number, "action", f"must be notify, rollback or 'pipeline NAME', got {_shown(value)}"
    )


def _notifier(number: int, entry: Any) -> NotifierSpec:
    if entry == "log":
        return NotifierSpec(kind="log")
    if not isinstance(entry, dict) or "webhook" not in entry:
        raise InvalidInput(
            f"monitor notify entry {number}: must be log or a mapping with webhook: URL, "
            f"got {_shown(entry)}",
            field="monitor",
        )
    unknown = sorted(str(key) for key in entry if key not in WEBHOOK_KEYS)
    if unknown:
        raise _bad_notifier(
            number, unknown[0], f"is not a webhook key (allowed: {', '.join(WEBHOOK_KEYS)})"
        )
    url = entry["webhook"]
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        hostname = parts.hostname if parts is not None else None
    except ValueError:  # "http://[x": not a URL at all
        parts = hostname = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not hostname
        or len(url) > MAX_URL
        or any(c.isspace() or not c.isprintable() for c in url)
    ):
        raise _bad_notifier(
            number, "webhook", f"must be an http:// or https:// URL, got {_shown(url)}"
        )
    format_ = entry.get("format", "json")
    if format_ not in ("json", "slack"):
        raise _bad_notifier(number, "format", f"must be json or slack, got {_shown(format_)}")
    timeout = entry.get("timeout_s", DEFAULT_TIMEOUT_S)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_TIMEOUT_S
    ):
        raise _bad_notifier(
            number,
            "timeout_s",
            f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:g}, "
            f"got {_shown(timeout)}",
        )
    return NotifierSpec(kind="webhook", url=url, format=format_, timeout_s=float(timeout))


def _bad_rule(number: int, key: str, reason: str) -> InvalidInput:
    return InvalidInput(f"monitor alerts entry {number}, key '{key}': {reason}", field="monitor")


def _bad_notifier(number: int, key: str, reason: str) -> InvalidInput:
    return InvalidInput(f"monitor notify entry {number}, key '{key}': {reason}", field="monitor")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
