"""Review policies as YAML: what they hold, their defaults, and errors that name the key and
its line."""

from __future__ import annotations

import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.domain.review import ReviewConfig, label_key

FULL = """\
uncertain: {low: 0.35, high: 0.65}
sample: 0.02
double_review: false
rules:
  - {name: removal, prediction: violation, score_above: 0.9}
  - {name: quiet, score_below: 0.01}
cap_per_hour: 200
costs: {false_positive: 1, false_negative: 5, positive: violation}
labels: [violation, ok, unsure]
claim_ttl: 5m
"""


def test_every_key_is_read() -> None:
    config = ReviewConfig.parse(FULL)
    assert config.uncertain is not None
    assert (config.uncertain.low, config.uncertain.high) == (0.35, 0.65)
    assert config.sample == 0.02 and config.double_review is False
    assert [(r.name, r.prediction, r.score_above, r.score_below) for r in config.rules] == [
        ("removal", "violation", 0.9, None),
        ("quiet", None, None, 0.01),
    ]
    assert config.cap_per_hour == 200
    assert config.costs is not None
    assert (config.costs.false_positive, config.costs.false_negative) == (1.0, 5.0)
    assert config.costs.positive == "violation"
    assert config.labels == ["violation", "ok", "unsure"]
    assert (config.claim_ttl, config.claim_ttl_s) == ("5m", 300.0)
    assert ReviewConfig.model_validate(config.model_dump(mode="json")) == config  # as stored


def test_defaults() -> None:
    config = ReviewConfig.parse("sample: 0.1\n")
    assert config.uncertain is None and config.rules == [] and config.cap_per_hour is None
    assert config.double_review is True and config.costs is None and config.labels is None
    assert config.claim_ttl_s == 600.0
    costs = ReviewConfig.parse("sample: 0.1\ncosts: {false_negative: 3}\n").costs
    assert costs is not None and (costs.false_positive, costs.positive) == (1.0, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sample: 0.1\nsample: 0.2\n", "policy key 'sample' is written twice (again at line 2)"),
        ("sample: 0.1\nwindow: 1h\n", "policy has unknown key(s) 'window'"),
        ("- sample\n", "policy must be a YAML mapping"),
        ("sample: [\n", "policy is not valid YAML"),
        ("cap_per_hour: 10\n", "policy needs a way to route: uncertain, sample"),
        ("sample: 0\n", "policy needs a way to route"),
        ("sample: 0.1\nuncertain: 0.5\n", "policy key 'uncertain' (line 2): must be a mapping"),
        (
            "uncertain:\n  low: 0.2\n  high: 1.5\n",
            "policy key 'uncertain.high' (line 3): must be a number from 0 to 1, got 1.5",
        ),
        ("uncertain: {low: 0.7, high: 0.6}\n", "policy key 'uncertain.high' (line 1): must not"),
        ("uncertain: {low: true, high: 0.6}\n", "policy key 'uncertain.low' (line 1)"),
        ("sample: 1.5\n", "policy key 'sample' (line 1): must be a number from 0 to 1"),
        ("sample: .nan\n", "policy key 'sample' (line 1)"),
        ("sample: 0.1\ndouble_review: yes please\n", "policy key 'double_review' (line 2)"),
        ("rules: []\n", "policy key 'rules' (line 1): must be a non-empty list"),
        (
            "rules:\n  - {name: a, score_above: 0.9}\n  - {name: b, score_above: high}\n",
            "policy key 'rules[1].score_above' (line 3): must be a number from 0 to 1",
        ),
        (
            "rules:\n  - name: a\n    when: violation\n",
            "policy key 'rules[0].when' (line 3): is not a rule key",
        ),
        ("rules:\n  - {name: a}\n", "policy key 'rules[0]' (line 2): needs a condition"),
        ("rules:\n  - {score_above: 0.5}\n", "policy key 'rules[0].name' (line 2): must be a name"),
        ("rules:\n  - {name: 'a b', score_above: 0.5}\n", "'rules[0].name' (line 2)"),
        (
            "rules:\n  - {name: a, score_above: 0.5}\n  - {name: a, score_below: 0.1}\n",
            "policy key 'rules[1].name' (line 3): 'a' names an earlier rule too",
        ),
        (
            "rules:\n  - {name: a, score_above: 0.8, score_below: 0.2}\n",
            "policy key 'rules[0].score_below' (line 2): must be above score_above",
        ),
        ("rules:\n  - {name: a, prediction: [x]}\n", "'rules[0].prediction' (line 2)"),
        ("rules:\n  - just-a-name\n", "policy key 'rules[0]' (line 2): must be a mapping"),
        ("sample: 0.1\ncap_per_hour: 0\n", "policy key 'cap_per_hour' (line 2): must be a whole"),
        ("sample: 0.1\ncap_per_hour: 2.5\n", "policy key 'cap_per_hour' (line 2)"),
        ("sample: 0.1\ncosts: 5\n", "policy key 'costs' (line 2): must be a mapping"),
        ("sample: 0.1\ncosts: {miss: 5}\n", "policy key 'costs.miss' (line 2): is not a cost"),
        (
            "sample: 0.1\ncosts:\n  false_positive: -1\n",
            "policy key 'costs.false_positive' (line 3): must be a number from 0",
        ),
        ("sample: 0.1\ncosts: {positive: {a: 1}}\n", "policy key 'costs.positive' (line 2)"),
        ("sample: 0.1\nlabels: []\n", "policy key 'labels' (line 2): must be a list of 1 to"),
        (
            "sample: 0.1\nlabels:\n  - ok\n  - OK\n  - ok\n",
            "policy key 'labels[2]' (line 5): 'ok' is listed twice",
        ),
        ("sample: 0.1\nlabels: [ok, '']\n", "policy key 'labels[1]' (line 2): must be a label"),
        ("sample: 0.1\nclaim_ttl: 2w\n", "policy key 'claim_ttl' (line 2): must be a duration"),
        ("sample: 0.1\nclaim_ttl: 0s\n", "policy key 'claim_ttl' (line 2)"),
        ("sample: 0.1\nclaim_ttl: 2d\n", "policy key 'claim_ttl' (line 2): must be a duration"),
    ],
)
def test_mistakes_are_one_error_naming_the_key_and_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ReviewConfig.parse(text)
    assert caught.value.field == "policy"
    assert message in caught.value.headline, caught.value.headline


def test_a_policy_must_be_text() -> None:
    with pytest.raises(InvalidInput, match="policy must be YAML text"):
        ReviewConfig.parse(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        (1, "1", True),
        (1.0, 1, True),
        (True, "true", True),
        ("True", True, True),
        ("ok", "OK", False),  # text is compared as written
        (0, False, False),
        (1.5, "1.5", True),
    ],
)
def test_labels_are_compared_by_their_text(one: object, other: object, same: bool) -> None:
    assert (label_key(one) == label_key(other)) is same
