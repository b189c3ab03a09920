"""Gates: the YAML a user writes, the errors that name their rule, and the verdict's details."""

from __future__ import annotations

from typing import Any

import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.domain.evaluation import (
    Costs,
    Gate,
    MetricReport,
    RuleResult,
    SegmentResult,
    verdict,
)

EXAMPLE = """
endpoint: moderation          # the endpoint this verdict is for
target: spam
task: classification
positive: 1
segment: format
k: 5
group: user_id
costs: {false_positive: 5, false_negative: 50}
latency_sample: 200
rules:
  - recall >= 0.85
  - f1 >= champion - 0.01
  - cost_per_1000 <= 120
  - auc > champion
  - segments.f1 >= champion - 0.05
  - segments.recall >= 0.7
  - latency_p99_ms <= 25
  - signature compatible
"""


def test_example_gate_options() -> None:
    gate = Gate.parse(EXAMPLE)
    assert (gate.endpoint, gate.target, gate.task, gate.positive) == (
        "moderation",
        "spam",
        "classification",
        1,
    )
    assert (gate.segment, gate.k, gate.group, gate.latency_sample) == ("format", 5, "user_id", 200)
    assert gate.costs == Costs(false_positive=5, false_negative=50)
    assert [rule.text for rule in gate.rules][:2] == ["recall >= 0.85", "f1 >= champion - 0.01"]
    assert gate.metrics_needed() == {"recall", "f1", "cost_per_1000", "roc_auc", "latency_p99_ms"}
    assert gate.needs_signature


def test_options_default_when_left_out() -> None:
    gate = Gate.parse("rules: []")
    assert (gate.endpoint, gate.task, gate.positive, gate.k, gate.costs) == (
        None,
        None,
        None,
        10,
        None,
    )
    assert gate.rules == [] and not gate.needs_signature
    assert verdict(gate.judge(MetricReport(metrics={}, rows=1), None)) == "go"


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        ("recall >= 0.85", {"op": ">=", "reference": "absolute", "value": 0.85}),
        ("bias>-0.5", {"metric": "bias", "op": ">", "value": -0.5}),
        ("latency_p99_ms <= 2.5e1", {"metric": "latency_p99_ms", "op": "<=", "value": 25.0}),
        ("mae == .5", {"op": "==", "value": 0.5}),
        ("f1 >= champion - 0.01", {"reference": "champion", "offset": -0.01, "factor": 1.0}),
        ("f1 >= champion-0.01", {"reference": "champion", "offset": -0.01}),
        ("rmse < champion + 2", {"op": "<", "reference": "champion", "offset": 2.0}),
        ("auc > champion", {"metric": "roc_auc", "reference": "champion", "offset": 0.0}),
        ("roc_auc >= champion * 0.98", {"reference": "champion", "factor": 0.98, "offset": 0}),
        ("segments.f1 >= champion - 0.05", {"metric": "f1", "per_segment": True, "offset": -0.05}),
        ("segments.recall >= 0.7", {"per_segment": True, "reference": "absolute", "value": 0.7}),
        ("signature compatible", {"kind": "signature", "op": None, "per_segment": False}),
    ],
)
def test_rule_grammar(line: str, fields: dict[str, Any]) -> None:
    (rule,) = Gate.parse(f"rules:\n  - {line}\n").rules
    assert rule.text == line
    assert {name: getattr(rule, name) for name in fields} == fields


@pytest.mark.parametrize(
    ("source", "headline"),
    [
        (
            "rules: [recall >= 0.85, precision > 0.5, f1 >= champin - 0.01]",
            "gate rule 3 \"f1 >= champin - 0.01\": unknown word 'champin' "
            "(expected a number or 'champion')",
        ),
        ("rules: [f1 => 0.5]", "gate rule 1 \"f1 => 0.5\": unknown operator '=>'"),
        ("rules: [f1 = 0.5]", "gate rule 1 \"f1 = 0.5\": unknown operator '='"),
        ("rules: [f1 0.5]", 'gate rule 1 "f1 0.5": no comparison found'),
        ("rules: [f-1 >= 0.5]", "gate rule 1 \"f-1 >= 0.5\": metric name 'f-1' must start"),
        ("rules: [segment.f1 >= 0.5]", "unknown prefix 'segment.' (expected 'segments.'"),
        ("rules: [0.85 <= recall]", "put the metric on the left"),
        ("rules: ['>= 0.5']", "gate rule 1 \">= 0.5\": missing metric name before '>='"),
        ("rules: [f1 >=]", "gate rule 1 \"f1 >=\": missing threshold after '>='"),
        ("rules: [f1 >= champion +]", "cannot read the threshold 'champion +'"),
        ("rules: [f1 >= 85%]", "cannot read the threshold '85%'"),
        ("rules: [f1 >= 0.5 and f1 <= 0.9]", "more than one comparison"),
        ("rules: [f1 >= 0.5 or better]", "unknown word 'or'"),
        ("rules: [0.1 < f1 < 0.9]", "more than one comparison"),
        ("rules: [signature ok]", "write the signature rule as 'signature compatible'"),
        ("rules: ['  ']", 'gate rule 1 "  ": the rule is empty'),
        ("rules:\n  - recall >= 0.8\n  - 0.85", "gate rule 2 0.85: expected text"),
        ("rules:\n  - recall: 0.85", "gate rule 1 {'recall': 0.85}: expected text"),
        ("rules: recall >= 0.85", "'rules' must be a list"),
        ("rule: [recall >= 0.8]", "unknown key(s) 'rule' (allowed: endpoint, target, task,"),
        ("rules: []\nrules: [f1 > 0]", "gate key 'rules' is written twice (again at line 2)"),
        ("rules: [f1 > 0", "gate is not valid YAML at line 1"),
        ("- f1 > 0", "gate must be a YAML mapping"),
        ("", "gate must be a YAML mapping"),
        ("task: clasification", "'task' is 'clasification' (expected one of classification,"),
        ("k: 0", "'k' must be a whole number >= 1, got 0"),
        ("k: true", "'k' must be a whole number >= 1, got True"),
        ("latency_sample: ten", "'latency_sample' must be a whole number >= 1, got 'ten'"),
        ("segment: 2020", "'segment' must be non-empty text, got 2020"),
        ("positive: [1]", "'positive' must be one label"),
        ("costs: {false_positive: 5}", "'costs' must be a mapping with exactly"),
        ("costs: {false_positive: 5, false_negative: -1}", "false_negative must be a number >= 0"),
    ],
)
def test_parse_errors_name_the_rule_and_the_reason(source: str, headline: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Gate.parse(source)
    assert caught.value.field == "gate"
    assert headline in caught.value.headline
    assert caught.value.status == 422


def _report(metrics: dict[str, float | None], **segments: dict[str, float | None]) -> MetricReport:
    return MetricReport(
        metrics=metrics,
        rows=100,
        task="classification",
        segments={name: SegmentResult(rows=10, metrics=m) for name, m in segments.items()},
    )


def _judge(line: str, candidate: MetricReport, champion: MetricReport | None) -> RuleResult:
    (result,) = Gate.parse(f"rules: ['{line}']").judge(candidate, champion)
    return result


CANDIDATE = _report({"recall": 0.873, "f1": 0.815, "cost_per_1000": 118.2, "roc_auc": None})
CHAMPION = _report({"recall": 0.9, "f1": 0.812, "cost_per_1000": 100.0})


@pytest.mark.parametrize(
    ("line", "champion", "passed", "detail", "value", "threshold"),
    [
        ("recall >= 0.85", CHAMPION, True, "0.873 >= 0.850", 0.873, 0.85),
        ("recall >= 0.9", None, False, "0.873 < 0.900", 0.873, 0.9),
        ("recall >= 0.8735", None, False, "0.8730 < 0.8735", 0.873, 0.8735),
        ("recall >= 0.8731", None, False, "0.8730 < 0.8731", 0.873, 0.8731),
        ("recall >= 0.87301", None, False, "0.87300 < 0.87301", 0.873, 0.87301),
        ("recall <= 0.87", None, False, "0.873 > 0.870", 0.873, 0.87),
        ("f1 >= 0.815001", None, False, "0.815000 < 0.815001", 0.815, 0.815001),
        ("recall > 0.873", None, False, "0.873 <= 0.873", 0.873, 0.873),
        ("recall == 0.873", None, True, "0.873 == 0.873", 0.873, 0.873),
        ("recall == 0.87", None, False, "0.873 != 0.870", 0.873, 0.87),
        ("recall >= 0.873", None, True, "0.873 >= 0.873", 0.873, 0.873),
        ("recall <= 0.873", None, True, "0.873 <= 0.873", 0.873, 0.873),
        ("recall < 0.873", None, False, "0.873 >= 0.873", 0.873, 0.873),
        ("cost_per_1000 <= 120", None, True, "118.200 <= 120.000", 118.2, 120.0),
        (
            "f1 >= champion - 0.01",
            CHAMPION,
            True,
            "0.815 >= 0.802 (champion 0.812 - 0.01)",
            0.815,
            0.802,
        ),
        ("f1 > champion", CHAMPION, True, "0.815 > 0.812 (champion)", 0.815, 0.812),
        (
            "recall >= champion * 0.98",
            CHAMPION,
            False,
            "0.873 < 0.882 (champion 0.900 * 0.98)",
            0.873,
            0.882,
        ),
        (
            "cost_per_1000 <= champion + 15",
            CHAMPION,
            False,
            "118.200 > 115.000 (champion 100.000 + 15)",
            118.2,
            115.0,
        ),
        ("f1 >= champion - 0.01", None, True, "no champion to compare with: passed", 0.815, None),
        (
            "precision >= 0.5",
            CHAMPION,
            False,
            "metric 'precision' was not computed (task classification; computed: cost_per_1000, "
            "f1, recall, roc_auc)",
            None,
            None,
        ),
        ("roc_auc >= 0.5", CHAMPION, False, "roc_auc is undefined on this data", None, None),
        (
            "cost_per_1000 <= champion",
            _report({"cost_per_1000": None}),
            False,
            "the champion's cost_per_1000 is undefined",
            118.2,
            None,
        ),
        (
            "recall >= champion",
            _report({}),
            False,
            "the champion's recall was not computed",
            0.873,
            None,
        ),
    ],
)
def test_judge_metric_rules(
    line: str,
    champion: MetricReport | None,
    passed: bool,
    detail: str,
    value: float | None,
    threshold: float | None,
) -> None:
    result = _judge(line, CANDIDATE, champion)
    assert (result.rule, result.passed, result.detail) == (line, passed, detail)
    assert result.value == value
    assert result.threshold == (None if threshold is None else pytest.approx(threshold))


SEGMENTED = _report(
    {},
    html={"f1": 0.61, "recall": 0.80},
    pdf={"f1": 0.90, "recall": None},
    doc={"f1": 0.72, "recall": 0.75},
    txt={"f1": 0.50, "recall": 0.95},
)
SEGMENTED_CHAMPION = _report(
    {},
    html={"f1": 0.70},
    pdf={"f1": 0.80},
    doc={"f1": 0.70},
    txt={"f1": None},
)


@pytest.mark.parametrize(
    ("line", "champion", "passed", "detail"),
    [
        (
            "segments.f1 >= champion - 0.05",
            SEGMENTED_CHAMPION,
            False,
            "segment 'html': 0.610 < 0.650 (champion 0.700 - 0.05); 1 of 3 segments fail; "
            "skipped 'txt' (undefined for the champion)",
        ),
        (
            "segments.recall >= 0.7",
            None,
            True,
            "all 3 segments pass, closest segment 'doc': 0.750 >= 0.700; skipped 'pdf' (undefined)",
        ),
        (
            "segments.f1 >= 0.6",
            None,
            False,
            "segment 'txt': 0.500 < 0.600; 1 of 4 segments fail",
        ),
        (
            "segments.f1 >= 0.55",
            SEGMENTED_CHAMPION,
            False,
            "segment 'txt': 0.500 < 0.550; 1 of 4 segments fail",
        ),
        (
            "segments.f1 >= champion",
            _report({}, html={"f1": 0.5}),
            True,
            "all 1 segments pass, closest segment 'html': 0.610 >= 0.500 (champion); "
            "skipped 'doc' (not in the champion), 'pdf' (not in the champion), "
            "'txt' (not in the champion)",
        ),
        ("segments.f1 >= champion", None, True, "no champion to compare with: passed"),
        (
            "segments.precision >= 0.5",
            None,
            False,
            "metric 'precision' was not computed (task classification; computed: f1, recall)",
        ),
    ],
)
def test_judge_segment_rules(
    line: str, champion: MetricReport | None, passed: bool, detail: str
) -> None:
    result = _judge(line, SEGMENTED, champion)
    assert (result.passed, result.detail) == (passed, detail)


def test_a_segment_rule_reports_the_worst_segment_as_its_value() -> None:
    result = _judge("segments.f1 >= 0.95", SEGMENTED, None)
    assert (result.value, result.threshold) == (0.5, 0.95)
    assert result.detail.endswith("4 of 4 segments fail")


@pytest.mark.parametrize(
    ("candidate", "detail"),
    [
        (_report({}), "no segments were computed (set 'segment' in the gate)"),
        (_report({}, pdf={"f1": None}), "no segment could be compared; skipped 'pdf' (undefined)"),
    ],
)
def test_a_segment_rule_with_nothing_to_compare_fails(candidate: MetricReport, detail: str) -> None:
    result = _judge("segments.f1 >= 0.5", candidate, None)
    assert (result.passed, result.detail) == (False, detail)


@pytest.mark.parametrize(
    ("compatible", "passed", "detail"),
    [
        (None, True, "no endpoint model to compare with: passed"),
        (True, True, "the candidate accepts what the endpoint's model accepts"),
        (False, False, "the candidate does not accept what the endpoint's model accepts"),
    ],
)
def test_signature_rule(compatible: bool | None, passed: bool, detail: str) -> None:
    gate = Gate.parse("rules: [signature compatible]")
    (result,) = gate.judge(CANDIDATE, CHAMPION, signature_compatible=compatible)
    assert (result.metric, result.passed, result.detail) == ("signature", passed, detail)


def test_verdict_is_go_only_when_every_rule_passes() -> None:
    gate = Gate.parse(EXAMPLE)
    candidate = _report(
        {
            "recall": 0.9,
            "f1": 0.85,
            "cost_per_1000": 100.0,
            "roc_auc": 0.95,
            "latency_p99_ms": 12.0,
        },
        html={"f1": 0.8, "recall": 0.9},
    )
    results = gate.judge(candidate, None, signature_compatible=True)
    assert [result.rule for result in results] == [rule.text for rule in gate.rules]
    assert verdict(results) == "go"
    slow = candidate.model_copy(update={"metrics": {**candidate.metrics, "latency_p99_ms": 30.0}})
    results = gate.judge(slow, None, signature_compatible=True)
    assert verdict(results) == "no-go"
    assert [result.rule for result in results if not result.passed] == ["latency_p99_ms <= 25"]
