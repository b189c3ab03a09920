"""Evaluation reports and go/no-go gates: what a candidate model must show before it ships.

A gate is YAML; every key is optional::

    endpoint: moderation        # the endpoint this verdict is for
    target: spam                # the column holding the truth in the evaluation data
    task: classification        # classification | regression | ranking (else detected)
    positive: 1                 # the positive label of a binary classifier
    segment: format             # a column whose values each get their own metrics
    k: 10                       # ranking cut-off (default 10)
    group: user_id              # ranking: the query/user column
    item: movie_id              # ranking of lists: the item column (the model answers each
                                # group with a list of item ids, best first)
    relevance_threshold: 4      # ranking of lists: an item is relevant from this grade of the
                                # target (default: any grade above 0)
    costs: {false_positive: 5, false_negative: 50}   # enables cost_per_1000
    latency_sample: 200         # rows timed one by one: latency_p50_ms, latency_p99_ms
    rules:                      # no rules at all is a "go"
      - recall >= 0.85                   # METRIC OP NUMBER
      - f1 >= champion - 0.01            # METRIC OP champion [+ x | - x | * x]
      - segments.f1 >= champion - 0.05   # every segment, against the champion's same segment
      - segments.recall >= 0.7           # every segment, absolute
      - signature compatible             # accepts what the endpoint's model accepts

OP is one of ``>= <= > < ==``; a metric name starts with a letter and holds letters, digits
and ``_`` (``auc`` means ``roc_auc``). A rule fails when its metric was not computed or is
undefined on the data (None). A champion rule passes when there is no champion yet, and fails
when the champion's value is undefined. A segment rule fails if any segment fails and reports
the worst one; segments whose value is undefined, or (champion rules) that the champion lacks,
are skipped and named.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from opsloop.domain import _gate_text as text
from opsloop.domain.entities import Entity
from opsloop.domain.errors import InvalidInput

Op = text.Op
Task = Literal["classification", "regression", "ranking"]
Label = bool | int | float | str
TASKS: tuple[Task, ...] = ("classification", "regression", "ranking")
GATE_KEYS = (
    "endpoint",
    "target",
    "task",
    "positive",
    "segment",
    "k",
    "group",
    "item",
    "relevance_threshold",
    "costs",
    "latency_sample",
    "rules",
)


class Costs(Entity):
    """What one wrong call costs, in any unit; gives ``cost_per_1000`` (binary tasks)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    false_positive: float = Field(ge=0, allow_inf_nan=False)
    false_negative: float = Field(ge=0, allow_inf_nan=False)


class ConfusionMatrix(Entity):
    """Rows are the true labels, columns the predicted ones, both in ``labels`` order."""

    labels: list[Label]
    matrix: list[list[int]]


class CalibrationBin(Entity):
    lower: float
    upper: float
    mean_score: float
    fraction_positive: float
    count: int


class SegmentResult(Entity):
    rows: int
    metrics: dict[str, float | None]


class MetricReport(Entity):
    """One model's figures on one evaluation data set. A metric that is absent was not
    computed; one that is None is undefined on this data (ROC AUC with a single class)."""

    metrics: dict[str, float | None]
    confusion: ConfusionMatrix | None = None
    calibration: list[CalibrationBin] = Field(default_factory=list)
    segments: dict[str, SegmentResult] = Field(default_factory=dict)
    rows: int
    task: Task | None = None


class RuleResult(Entity):
    rule: str
    metric: str
    value: float | None
    threshold: float | None
    passed: bool
    detail: str


class Rule(Entity):
    """One line of ``rules:``. The threshold is ``value`` (absolute) or
    ``champion * factor + offset``. ``signature compatible`` has kind "signature" and no op."""

    text: str
    kind: Literal["metric", "signature"] = "metric"
    metric: str
    op: Op | None = None
    reference: Literal["absolute", "champion"] = "absolute"
    value: float | None = None
    offset: float = 0.0
    factor: float = 1.0
    per_segment: bool = False

    def threshold(self, champion: float | None = None) -> float | None:
        if self.reference == "absolute":
            return self.value
        return None if champion is None else champion * self.factor + self.offset

    def explain(self, champion: float, places: int) -> str:
        """Where a champion threshold came from: ``champion 0.812 - 0.01``."""
        if self.offset == 0 and self.factor == 1:
            return "champion"
        shown = f"champion {text.number(champion, places)}"
        if self.factor != 1:
            shown += f" * {text.constant(self.factor)}"
        if self.offset:
            shown += f" {'-' if self.offset < 0 else '+'} {text.constant(abs(self.offset))}"
        return shown


class Gate(Entity):
    """A parsed gate file (see the module docstring)."""

    endpoint: str | None = None
    target: str | None = None
    task: Task | None = None
    positive: Label | None = None
    segment: str | None = None
    k: int = 10
    group: str | None = None
    item: str | None = None
    relevance_threshold: float | None = None
    costs: Costs | None = None
    latency_sample: int | None = None
    rules: list[Rule] = Field(default_factory=list)

    @classmethod
    def parse(cls, source: str) -> Gate:
        """The gate written in YAML ``source``; ``InvalidInput`` (field "gate") if malformed."""
        data = text.load_mapping(source, GATE_KEYS)
        costs = text.costs_option(data)
        rules = [
            Rule(text=line, **text.parse_rule(line, number))
            for number, line in enumerate(text.rule_texts(data), start=1)
        ]
        task = text.choice_option(data, "task", TASKS)
        group, item = text.text_option(data, "group"), text.text_option(data, "item")
        if item is not None and group is None:
            raise InvalidInput(
                "a ranking of lists needs the group column (group: the user or query) beside item:",
                field="group",
            )
        if item is not None and task not in (None, "ranking"):
            raise InvalidInput(
                f"item: measures a ranking of lists, but the gate says task: {task}", field="task"
            )
        return cls(
            endpoint=text.text_option(data, "endpoint"),
            target=text.text_option(data, "target"),
            task=task,  # type: ignore[arg-type]
            positive=text.label_option(data, "positive"),
            segment=text.text_option(data, "segment"),
            k=text.count_option(data, "k") or 10,
            group=group,
            item=item,
            relevance_threshold=text.number_option(data, "relevance_threshold"),
            costs=Costs(**costs) if costs is not None else None,
            latency_sample=text.count_option(data, "latency_sample"),
            rules=rules,
        )

    def metrics_needed(self) -> set[str]:
        return {rule.metric for rule in self.rules if rule.kind == "metric"}

    @property
    def needs_signature(self) -> bool:
        return any(rule.kind == "signature" for rule in self.rules)

    def judge(
        self,
        candidate: MetricReport,
        champion: MetricReport | None,
        *,
        signature_compatible: bool | None = None,
    ) -> list[RuleResult]:
        """One result per rule, in the gate's order."""
        task = candidate.task or self.task or "unknown"
        results = []
        for rule in self.rules:
            if rule.kind == "signature":
                results.append(_judge_signature(rule, signature_compatible))
            elif rule.per_segment:
                results.append(_judge_segments(rule, candidate, champion, task))
            else:
                results.append(_judge_metric(rule, candidate, champion, task))
        return results


def verdict(results: Iterable[RuleResult]) -> Literal["go", "no-go"]:
    return "go" if all(result.passed for result in results) else "no-go"


def _result(
    rule: Rule,
    passed: bool,
    detail: str,
    value: float | None = None,
    threshold: float | None = None,
) -> RuleResult:
    return RuleResult(
        rule=rule.text,
        metric=rule.metric,
        value=value,
        threshold=threshold,
        passed=passed,
        detail=detail,
    )


def _not_computed(metric: str, metrics: dict[str, float | None], task: str) -> str:
    computed = ", ".join(sorted(metrics)) or "none"
    return f"metric '{metric}' was not computed (task {task}; computed: {computed})"


def _judge_signature(rule: Rule, compatible: bool | None) -> RuleResult:
    if compatible is None:
        return _result(rule, True, "no endpoint model to compare with: passed")
    if compatible:
        return _result(rule, True, "the candidate accepts what the endpoint's model accepts")
    return _result(rule, False, "the candidate does not accept what the endpoint's model accepts")


def _comparison(rule: Rule, value: float, threshold: float, champion: float | None) -> str:
    """``0.815 >= 0.802 (champion 0.812 - 0.01)``; the operator shown is the one that holds."""
    assert rule.op is not None
    places = text.decimals(value, threshold)
    holds = text.compare(value, rule.op, threshold)
    shown = f"{text.number(value, places)} {rule.op if holds else text.NEGATED[rule.op]} "
    shown += text.number(threshold, places)
    if champion is not None:
        shown += f" ({rule.explain(champion, places)})"
    return shown


def _judge_metric(
    rule: Rule, candidate: MetricReport, champion: MetricReport | None, task: str
) -> RuleResult:
    assert rule.op is not None
    if rule.metric not in candidate.metrics:
        return _result(rule, False, _not_computed(rule.metric, candidate.metrics, task))
    value = candidate.metrics[rule.metric]
    if value is None:
        return _result(rule, False, f"{rule.metric} is undefined on this data")
    reference: float | None = None
    if rule.reference == "champion":
        if champion is None:
            return _result(rule, True, "no champion to compare with: passed", value)
        reference = champion.metrics.get(rule.metric)
        if reference is None:
            why = "is undefined" if rule.metric in champion.metrics else "was not computed"
            return _result(rule, False, f"the champion's {rule.metric} {why}", value)
    threshold = rule.threshold(reference)
    assert threshold is not None
    passed = text.compare(value, rule.op, threshold)
    detail = _comparison(rule, value, threshold, reference)
    return _result(rule, passed, detail, value, threshold)


def _judge_segments(
    rule: Rule, candidate: MetricReport, champion: MetricReport | None, task: str
) -> RuleResult:
    assert rule.op is not None
    if not candidate.segments:
        return _result(rule, False, "no segments were computed (set 'segment' in the gate)")
    if rule.reference == "champion" and champion is None:
        return _result(rule, True, "no champion to compare with: passed")
    # (margin, name, value, threshold, champion value) for every segment that can be compared
    checked: list[tuple[float, str, float, float, float | None]] = []
    skipped: list[str] = []
    for name in sorted(candidate.segments):
        metrics = candidate.segments[name].metrics
        if rule.metric not in metrics:
            return _result(rule, False, _not_computed(rule.metric, metrics, task))
        value = metrics[rule.metric]
        if value is None:
            skipped.append(f"'{name}' (undefined)")
            continue
        reference: float | None = None
        if rule.reference == "champion":
            assert champion is not None
            theirs = champion.segments.get(name)
            reference = theirs.metrics.get(rule.metric) if theirs is not None else None
            if reference is None:
                why = "not in the champion" if theirs is None else "undefined for the champion"
                skipped.append(f"'{name}' ({why})")
                continue
        threshold = rule.threshold(reference)
        assert threshold is not None
        checked.append((text.margin(value, rule.op, threshold), name, value, threshold, reference))
    note = f"; skipped {', '.join(skipped)}" if skipped else ""
    if not checked:
        return _result(rule, False, f"no segment could be compared{note}")
    failed = [item for item in checked if not text.compare(item[2], rule.op, item[3])]
    worst = min(failed or checked)
    _, name, value, threshold, reference = worst
    comparison = f"segment '{name}': {_comparison(rule, value, threshold, reference)}"
    if failed:
        detail = f"{comparison}; {len(failed)} of {len(checked)} segments fail{note}"
    else:
        detail = f"all {len(checked)} segments pass, closest {comparison}{note}"
    return _result(rule, not failed, detail, value, threshold)


class Evaluation(Entity):
    """A version measured on one dataset, beside the champion, and the gate's verdict."""

    id: int
    project: str
    model: str
    version: int
    endpoint: str | None = None
    dataset: str
    verdict: Literal["go", "no-go"] | None = Field(
        default=None, description="None when no gate was given"
    )
    task: Task | None = None
    target: str | None = None
    segment: str | None = None
    candidate: MetricReport
    champion: str | None = Field(default=None, description="project/model@version compared")
    champion_report: MetricReport | None = None
    rules: list[RuleResult] = Field(default_factory=list)
    signature_compatible: bool | None = None
    gate: str | None = Field(default=None, description="the gate file as given")
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.model}@{self.version}"
