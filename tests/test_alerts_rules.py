"""Alert rules and notifiers as a monitor's YAML gives them, and how a rule judges windows."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from opsloop.domain.alerts import (
    ActionKind,
    AlertRule,
    NotifierSpec,
    Severity,
    judge,
    parse_notifiers,
    parse_rules,
)
from opsloop.domain.errors import InvalidInput

RULES = """
- {name: drift, when: "drift.share_drifted > 0.3", for: 2, severity: warning,
   action: "pipeline retrain"}
- {name: accuracy, when: "performance.accuracy < 0.8", severity: critical, action: rollback}
- name: latency
  when: service.latency_p99_ms >= 250
"""


def test_the_documented_rules_parse() -> None:
    drift, accuracy, latency = parse_rules(yaml.safe_load(RULES))
    assert drift == AlertRule(
        name="drift",
        metric="drift.share_drifted",
        op=">",
        threshold=0.3,
        for_windows=2,
        severity=Severity.WARNING,
        action=ActionKind.PIPELINE,
        pipeline="retrain",
    )
    assert (accuracy.op, accuracy.threshold, accuracy.for_windows) == ("<", 0.8, 1)
    assert (accuracy.severity, accuracy.action) == (Severity.CRITICAL, ActionKind.ROLLBACK)
    # defaults: one window, warning, notify only
    assert (latency.op, latency.threshold, latency.for_windows) == (">=", 250.0, 1)
    assert (latency.severity, latency.action, latency.pipeline) == (
        Severity.WARNING,
        ActionKind.NOTIFY,
        None,
    )
    assert drift.condition == "drift.share_drifted > 0.3 for 2 windows"
    assert accuracy.condition == "performance.accuracy < 0.8"
    assert drift.action_text == "pipeline retrain"


def test_a_rule_written_back_parses_to_itself() -> None:
    rules = parse_rules(yaml.safe_load(RULES))
    assert parse_rules([rule.to_entry() for rule in rules]) == rules
    tiny = parse_rules([{"name": "t", "when": "x.y <= 1e-06"}])
    assert parse_rules([tiny[0].to_entry()]) == tiny


@pytest.mark.parametrize(
    ("op", "value", "breached"),
    [
        (">", 0.31, True),
        (">", 0.3, False),
        (">=", 0.3, True),
        ("<", 0.29, True),
        ("<", 0.3, False),
        ("<=", 0.3, True),
        ("==", 0.3, True),
        ("==", 0.31, False),
    ],
)
def test_operators(op: str, value: float, breached: bool) -> None:
    (rule,) = parse_rules([{"name": "r", "when": f"m {op} 0.3"}])
    assert rule.breached(value) is breached


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("drift > 1", "monitor alerts entry 1: must be a mapping"),
        ({"when": "a > 1"}, "entry 1, key 'name': is required"),
        ({"name": "r"}, "entry 1, key 'when': is required"),
        ({"name": "r", "when": "a > 1", "owner": "x"}, "key 'owner': is not a rule key"),
        ({"name": "r/1", "when": "a > 1"}, "key 'name': must start with a letter"),
        ({"name": "r", "when": "a >> 1"}, "key 'when': must read METRIC OP NUMBER"),
        ({"name": "r", "when": "a > high"}, "key 'when': must read METRIC OP NUMBER"),
        ({"name": "r", "when": "a > nan"}, "key 'when': the threshold must be a finite"),
        ({"name": "r", "when": 3}, "key 'when': must read METRIC OP NUMBER"),
        ({"name": "r", "when": "a > 1", "for": 0}, "key 'for': must be from 1 to 1000"),
        ({"name": "r", "when": "a > 1", "for": "2"}, "key 'for': must be a whole number"),
        ({"name": "r", "when": "a > 1", "for": True}, "key 'for': must be a whole number"),
        ({"name": "r", "when": "a > 1", "severity": "high"}, "key 'severity': must be one of"),
        ({"name": "r", "when": "a > 1", "action": "page"}, "key 'action': must be notify"),
        ({"name": "r", "when": "a > 1", "action": "pipeline"}, "key 'action': must be notify"),
        ({"name": "r", "when": "a > 1", "action": "pipeline a/b"}, "is not a pipeline name"),
    ],
)
def test_a_bad_rule_names_its_entry_and_key(entry: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_rules([entry])
    assert caught.value.field == "monitor"
    assert message in caught.value.headline


def test_rule_names_are_unique_and_the_list_is_a_list() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_rules([{"name": "r", "when": "a > 1"}, {"name": "r", "when": "b > 1"}])
    assert "entry 2, key 'name': 'r' is also the name of rule 1" in caught.value.headline
    with pytest.raises(InvalidInput) as caught:
        parse_rules({"name": "r", "when": "a > 1"})
    assert "alerts must be a list" in caught.value.headline
    assert parse_rules(None) == []


def test_notifiers_parse() -> None:
    webhook, slack, log = parse_notifiers(
        [
            {"webhook": "https://hooks.example.com/T0/B0/secret"},
            {"webhook": "http://127.0.0.1:9/x", "format": "slack", "timeout_s": 0.5},
            "log",
        ]
    )
    assert webhook == NotifierSpec(kind="webhook", url="https://hooks.example.com/T0/B0/secret")
    assert (webhook.format, webhook.timeout_s) == ("json", 5.0)
    assert (slack.format, slack.timeout_s) == ("slack", 0.5)
    assert log == NotifierSpec(kind="log")
    # the path of a hook is often its secret: records show scheme and host only
    assert webhook.describe() == "webhook https://hooks.example.com/… (json)"
    assert parse_notifiers(None) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("email", "notify entry 1: must be log or a mapping with webhook"),
        ({"url": "https://x"}, "notify entry 1: must be log or a mapping with webhook"),
        ({"webhook": "ftp://host/x"}, "key 'webhook': must be an http:// or https:// URL"),
        ({"webhook": "https:///path"}, "key 'webhook': must be an http:// or https:// URL"),
        ({"webhook": "https://a b"}, "key 'webhook': must be an http:// or https:// URL"),
        ({"webhook": "http://[x"}, "key 'webhook': must be an http:// or https:// URL"),
        ({"webhook": "https://a\x01b/"}, "key 'webhook': must be an http:// or https:// URL"),
        ({"webhook": "https://h", "format": "xml"}, "key 'format': must be json or slack"),
        ({"webhook": "https://h", "timeout_s": 0}, "key 'timeout_s': must be a number"),
        ({"webhook": "https://h", "timeout_s": 61}, "key 'timeout_s': must be a number"),
        ({"webhook": "https://h", "retries": 3}, "key 'retries': is not a webhook key"),
    ],
)
def test_a_bad_notifier_names_its_entry_and_key(entry: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_notifiers(["log", entry] if message.startswith("key") else [entry])
    assert caught.value.field == "monitor"
    assert message in caught.value.headline
    if message.startswith("key"):
        assert "notify entry 2" in caught.value.headline


@pytest.mark.parametrize(
    ("metric", "flag"),
    [
        ("performance.accuracy", "performance.uncertain"),
        ("canary.performance.f1", "canary.performance.uncertain"),
        ("performance.label_coverage", None),  # about the labels themselves: always counts
        ("drift.share_drifted", None),
        ("service.error_rate", None),
    ],
)
def test_which_metrics_an_uncertain_window_silences(metric: str, flag: str | None) -> None:
    (rule,) = parse_rules([{"name": "r", "when": f"{metric} < 1"}])
    assert rule.uncertain_metric == flag


TWO = AlertRule(name="r", metric="m", op=">", threshold=0.3, for_windows=2)


@pytest.mark.parametrize(
    ("values", "verdict", "index"),
    [
        ([], "pending", None),
        ([0.5], "pending", None),  # one bad window of the two needed
        ([0.5, 0.4], "breached", 0),
        ([0.5, 0.4, 0.1], "breached", 0),
        ([0.5, 0.1, 0.4], "pending", None),  # the streak is broken
        ([0.1, 0.5, 0.4], "healthy", 0),
        ([None, 0.5, None, 0.4], "breached", 1),  # windows that do not count are skipped
        ([None, None, 0.1], "healthy", 2),
        ([None, None], "pending", None),
    ],
)
def test_judge(values: list[float | None], verdict: str, index: int | None) -> None:
    windows = [(float(100 - i), value) for i, value in enumerate(values)]
    assert judge(TWO, windows) == (verdict, index)


def test_windows_already_judged_do_not_count_toward_a_new_firing() -> None:
    windows = [(103.0, 0.5), (102.0, 0.5), (101.0, 0.5)]
    assert judge(TWO, windows, after=101.0) == ("breached", 0)
    assert judge(TWO, windows, after=102.0) == ("pending", None)
