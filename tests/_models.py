"""Small real models for serving tests (importable, so cloudpickle stores them by reference)."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


def posts(rows: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A moderation-like table: two numbers and a whole number; label = spam."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "num_char": rng.gamma(2.0, 5.0, rows),
            "exclaim": rng.integers(0, 10, rows).astype("int64"),
            "links": rng.normal(0, 1, rows),
        }
    )
    label = ((frame["exclaim"] > 5) | (frame["links"] > 1.0)).astype(int).to_numpy()
    return frame, label


def spam_classifier(seed: int = 0, c: float = 1.0) -> tuple[LogisticRegression, pd.DataFrame]:
    frame, label = posts(seed=seed)
    return LogisticRegression(C=c, max_iter=1000).fit(frame, label), frame


class SlowCounter:
    """Sleeps per call and records batch sizes (to see micro-batching); rows with
    ``links == 13`` make it raise (to see one bad request fail alone)."""

    batches: ClassVar[list[int]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s

    def predict(self, features: Any) -> Any:
        frame = pd.DataFrame(features)
        if (frame["links"] == 13).any():
            raise ValueError("links == 13 is not allowed")
        with SlowCounter.lock:
            SlowCounter.batches.append(len(frame))
        time.sleep(self.delay_s)
        return (frame["exclaim"] > 5).astype(int).to_numpy()
