"""Review: which predictions go to people, the queue they wait in, and what reviewers decided.

A review policy is YAML, one per endpoint; every key is optional, but at least one way to
route (``uncertain``, ``sample`` or ``rules``) must be given::

    uncertain: {low: 0.35, high: 0.65}  # route when the logged score lies in [low, high]
    sample: 0.02             # a share of all primary/canary predictions, for quality control
    double_review: true      # sampled items need two reviewers (default true)
    rules:                   # route when the prediction matches
      - {name: removal, prediction: violation, score_above: 0.9}
    cap_per_hour: 200        # at most this many new items per hour of predictions
    costs: {false_positive: 1, false_negative: 5, positive: violation}
    labels: [violation, ok]  # the reviewer's choices (default: the model version's classes)
    claim_ttl: 10m           # a claim lapses after this long

Labels are compared by their text (``label_key``): ``1``, ``1.0`` and ``"1"`` are one label,
so is ``true`` written as text or as a boolean.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from opsloop.domain import _yaml
from opsloop.domain._yaml import BadKey
from opsloop.domain.entities import Entity
from opsloop.domain.errors import InvalidInput
from opsloop.domain.names import NAME_PATTERN

POLICY_KEYS = (
    "uncertain",
    "sample",
    "double_review",
    "rules",
    "cap_per_hour",
    "costs",
    "labels",
    "claim_ttl",
)
BAND_KEYS = ("low", "high")
RULE_KEYS = ("name", "prediction", "score_above", "score_below")
COST_KEYS = ("false_positive", "false_negative", "positive")
CLAIM_TTL = "10m"
MIN_CLAIM_TTL_S = 1.0
MAX_CLAIM_TTL_S = 86400.0
MAX_LABELS = 100
FIELD = "policy"
_SHAPE = "a YAML mapping of uncertain, sample, rules, cap_per_hour, costs, labels..."

Label = bool | int | float | str
Path = _yaml.KeyPath


def label_key(value: Any) -> str:
    """A label as text, the one form labels are compared in: ``1``, ``1.0`` and ``"1"``
    are ``1``; ``True`` and ``"true"`` are ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value.lower() if value.lower() in ("true", "false") else value
    return str(value)


class Band(Entity):
    """Scores in ``[low, high]``: the model is unsure."""

    low: float
    high: float

    def holds(self, score: float) -> bool:
        return self.low <= score <= self.high


class RoutingRule(Entity):
    """Route every prediction that matches all the conditions given."""

    name: str
    prediction: Label | None = None
    score_above: float | None = Field(default=None, description="score > this")
    score_below: float | None = Field(default=None, description="score < this")

    def matches(self, prediction: Any, score: float | None) -> bool:
        if self.prediction is not None and label_key(prediction) != label_key(self.prediction):
            return False
        if self.score_above is not None and (score is None or not score > self.score_above):
            return False
        return not (
            self.score_below is not None and (score is None or not score < self.score_below)
        )


class Costs(Entity):
    """What each kind of error costs a binary classifier's owner; ``positive`` is the class
    whose wrong call is a false positive (default: the model's second class)."""

    false_positive: float = 1.0
    false_negative: float = 1.0
    positive: Label | None = None


class ReviewConfig(Entity):
    """A review policy, checked."""

    uncertain: Band | None = None
    sample: float = Field(default=0.0, description="share of predictions sampled for QA")
    double_review: bool = True
    rules: list[RoutingRule] = Field(default_factory=list)
    cap_per_hour: int | None = None
    costs: Costs | None = None
    labels: list[Label] | None = Field(
        default=None, description="the reviewer's choices; default: the model's classes"
    )
    claim_ttl: str = CLAIM_TTL
    claim_ttl_s: float = 600.0

    @classmethod
    def parse(cls, text: str) -> ReviewConfig:
        """The YAML ``text`` as a policy; ``InvalidInput(field="policy")`` naming the key and,
        where the YAML shows it, its line."""
        data = _yaml.load_mapping(text, POLICY_KEYS, FIELD, _SHAPE)
        try:
            return cls._from_mapping(data)
        except BadKey as exc:
            raise key_error(text, exc.path, exc.reason) from None

    @classmethod
    def _from_mapping(cls, data: dict[str, Any]) -> ReviewConfig:
        uncertain = _band(data.get("uncertain"))
        sample = _share(data.get("sample"))
        rules = _rules(data.get("rules"))
        if uncertain is None and not sample and not rules:
            raise InvalidInput(
                "policy needs a way to route: uncertain, sample (above 0) or rules",
                field=FIELD,
            )
        double = data.get("double_review", True)
        if not isinstance(double, bool):
            raise BadKey(("double_review",), f"must be true or false, got {double!r}")
        ttl = data.get("claim_ttl", CLAIM_TTL)
        return cls(
            uncertain=uncertain,
            sample=sample,
            double_review=double,
            rules=rules,
            cap_per_hour=_cap(data.get("cap_per_hour")),
            costs=_costs(data.get("costs")),
            labels=_labels(data.get("labels")),
            claim_ttl=str(ttl).strip(),
            claim_ttl_s=_duration(ttl),
        )


class ReviewPolicy(Entity):
    endpoint: str
    config: ReviewConfig
    source: str = Field(description="the YAML as it was given")
    routed_until: datetime | None = Field(
        default=None, description="predictions logged before this have been routed"
    )
    created_at: datetime
    updated_at: datetime
    updated_by: str


class ReviewDecision(Entity):
    id: int
    item_id: int
    reviewer: str
    action: Literal["decided", "skipped"]
    label: Label | None = None
    note: str | None = None
    claimed_at: datetime | None = None
    decided_at: datetime


class ReviewItem(Entity):
    """A prediction waiting for (or given) a human decision."""

    id: int
    endpoint: str
    request_id: str
    reason: str = Field(description="uncertain, sample or rule:<name>")
    priority: float = Field(description="expected cost of the model's error; higher first")
    status: Literal["open", "closed"]
    reviews_needed: int
    model: str
    version: int
    prediction: Any = None
    score: float | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    predicted_at: datetime
    created_at: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    claim_expires_at: datetime | None = None
    label: Label | None = Field(default=None, description="the decision, once closed")
    closed_at: datetime | None = None
    decisions: list[ReviewDecision] = Field(
        default=[], description="filled when one item is read, in order"
    )
    choices: list[Label] | None = Field(
        default=None, description="the labels a reviewer may give (None: any)"
    )


class ReviewClaim(Entity):
    """A claimed item and how many this reviewer could still claim, it included."""

    item: ReviewItem
    remaining: int


class Spread(Entity):
    """Median and 90th percentile of a duration, in seconds, over ``count`` values."""

    median: float
    p90: float
    count: int


class ReviewStats(Entity):
    """The queue's health over a period (``since``: default, since the policy was set)."""

    endpoint: str
    since: datetime
    until: datetime
    backlog: int = Field(description="open items now")
    oldest_open_age_s: float | None = Field(description="how long the oldest open item waits")
    routed: int = Field(description="items routed in the period")
    by_reason: dict[str, int]
    capped: int = Field(description="predictions left out by cap_per_hour in the period")
    closed: int = Field(description="items closed in the period")
    time_to_decision_s: Spread | None = Field(description="closed_at - created_at")
    handling_time_s: Spread | None = Field(description="decided_at - claimed_at")
    double_reviewed: int = Field(description="double-review items with two decisions")
    reviewer_agreement: float | None = Field(description="share whose first two agree")
    model_agreement: float | None = Field(description="closed items labelled as predicted")
    errors_known: int = Field(description="labelled predictions the model got wrong")
    errors_caught: int = Field(description="of them, found by review")
    errors_caught_share: float | None
    decided_today: dict[str, int] = Field(description="decisions per reviewer, this UTC day")


class RoutingPass(Entity):
    """What one routing pass over the prediction log did."""

    endpoint: str
    routed: int
    by_reason: dict[str, int] = Field(default_factory=dict)
    capped: int = 0
    read_from: datetime | None = None
    routed_until: datetime | None = None


def key_error(text: str, path: Path, reason: str) -> InvalidInput:
    """The error for a bad value under ``path`` of policy YAML ``text``."""
    return _yaml.key_error(text, path, reason, FIELD)


def _number(value: Any, path: Path, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise BadKey(path, f"must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _band(value: Any) -> Band | None:
    if value is None:
        return None
    if not isinstance(value, dict) or sorted(map(str, value)) != sorted(BAND_KEYS):
        raise BadKey(("uncertain",), f"must be a mapping with exactly low and high, got {value!r}")
    low = _number(value["low"], ("uncertain", "low"), 0.0, 1.0)
    high = _number(value["high"], ("uncertain", "high"), 0.0, 1.0)
    if low > high:
        raise BadKey(("uncertain", "high"), f"must not be below low ({low:g})")
    return Band(low=low, high=high)


def _share(value: Any) -> float:
    return 0.0 if value is None else _number(value, ("sample",), 0.0, 1.0)


def _rules(value: Any) -> list[RoutingRule]:
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        raise BadKey(("rules",), f"must be a non-empty list of rules, got {value!r}")
    rules: list[RoutingRule] = []
    for index, entry in enumerate(value):
        rules.append(_rule(entry, index))
    names = [rule.name for rule in rules]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise BadKey(("rules", index, "name"), f"{name!r} names an earlier rule too")
    return rules


def _rule(entry: Any, index: int) -> RoutingRule:
    if not isinstance(entry, dict):
        raise BadKey(("rules", index), f"must be a mapping with a name, got {entry!r}")
    unknown = sorted(str(key) for key in entry if key not in RULE_KEYS)
    if unknown:
        raise BadKey(
            ("rules", index, unknown[0]), f"is not a rule key (allowed: {', '.join(RULE_KEYS)})"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise BadKey(
            ("rules", index, "name"),
            f"must be a name of letters, digits, '_', '.', '-', got {name!r}",
        )
    prediction = entry.get("prediction")
    if prediction is not None and not _is_label(prediction):
        raise BadKey(("rules", index, "prediction"), f"must be one label, got {prediction!r}")
    above, below = entry.get("score_above"), entry.get("score_below")
    if above is not None:
        above = _number(above, ("rules", index, "score_above"), 0.0, 1.0)
    if below is not None:
        below = _number(below, ("rules", index, "score_below"), 0.0, 1.0)
    if prediction is None and above is None and below is None:
        raise BadKey(
            ("rules", index),
            "needs a condition: prediction, score_above or score_below",
        )
    if above is not None and below is not None and above >= below:
        raise BadKey(("rules", index, "score_below"), f"must be above score_above ({above:g})")
    return RoutingRule(name=name, prediction=prediction, score_above=above, score_below=below)


def _cap(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadKey(("cap_per_hour",), f"must be a whole number >= 1, got {value!r}")
    return value


def _costs(value: Any) -> Costs | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise BadKey(
            ("costs",),
            f"must be a mapping of false_positive, false_negative, positive, got {value!r}",
        )
    unknown = sorted(str(key) for key in value if key not in COST_KEYS)
    if unknown:
        raise BadKey(("costs", unknown[0]), f"is not a cost (allowed: {', '.join(COST_KEYS)})")
    costs: dict[str, Any] = {}
    for key in ("false_positive", "false_negative"):
        if key in value:
            costs[key] = _number(value[key], ("costs", key), 0.0, 1e12)
    positive = value.get("positive")
    if positive is not None and not _is_label(positive):
        raise BadKey(("costs", "positive"), f"must be one label, got {positive!r}")
    return Costs(**costs, positive=positive)


def _labels(value: Any) -> list[Label] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or len(value) > MAX_LABELS:
        raise BadKey(("labels",), f"must be a list of 1 to {MAX_LABELS} labels, got {value!r}")
    seen: set[str] = set()
    for index, label in enumerate(value):
        if not _is_label(label):
            raise BadKey(("labels", index), f"must be a label (text or a number), got {label!r}")
        if label_key(label) in seen:
            raise BadKey(("labels", index), f"{label!r} is listed twice")
        seen.add(label_key(label))
    return list(value)


def _duration(value: Any) -> float:
    seconds = _yaml.duration_s(value)
    if seconds is None or not MIN_CLAIM_TTL_S <= seconds <= MAX_CLAIM_TTL_S:
        raise BadKey(
            ("claim_ttl",), f"must be a duration from 1s to 1d (30s, 10m, 1h), got {value!r}"
        )
    return seconds


def _is_label(value: Any) -> bool:
    """One label as feedback can carry it: finite, 64-bit, non-empty."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**63
    return isinstance(value, bool) or (isinstance(value, str) and value != "")
