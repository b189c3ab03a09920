"""The pipeline module the closed-loop test's server loads (OPSLOOP_PIPELINES): a retrain
pipeline for the endpoint ``loop``, with a tree model that can learn the drifted regime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from opsloop.pipelines.retrain import retrain_pipeline

ENDPOINT = "loop"
PIPELINE = "retrain-loop"
FEATURES = ["x1", "x2"]
TARGET = "y"
GATE = """
target: y
rules:
  - accuracy >= champion
"""


def rows(count: int, shift: float, seed: int) -> pd.DataFrame:
    """Two features; the label is whether x1 + x2 passes the regime's boundary. Shifted
    traffic moves x1 by ``shift`` and the boundary with it (drift and concept change)."""
    generator = np.random.default_rng(seed)
    x1 = generator.normal(shift, 1.0, count)
    x2 = generator.normal(0.0, 1.0, count)
    return pd.DataFrame({"x1": x1, "x2": x2, TARGET: ((x1 - shift + x2) > 0).astype(int)})


def train(frame: pd.DataFrame, target: str) -> Any:
    return DecisionTreeClassifier(max_depth=6, random_state=0).fit(frame[FEATURES], frame[target])


retrain_pipeline(
    name=PIPELINE,
    endpoint=ENDPOINT,
    train=train,
    target=TARGET,
    gate=GATE,
    canary=50,
    canary_predictions=40,
    canary_timeout_s=240,
)
