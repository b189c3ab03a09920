"""Performance without labels: confidence-based performance estimation (CBPE).

On the reference data, which has the truth, an isotonic regression learns how often the model
is right at each score (its calibration). In a window of live traffic each prediction's
calibrated score is then the probability that it is right, and the expected confusion
matrix gives accuracy, precision, recall and F1 before any label comes in. The estimate holds
while the relation between score and truth holds (covariate shift, not concept drift).

Binary classifiers get all four; with more classes, accuracy only (from the winning class's
calibrated score). Regressors get none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ESTIMATED = ("accuracy", "precision", "recall", "f1")


@dataclass(frozen=True)
class Calibration:
    """Score -> probability of being right (multiclass) or of the positive class (binary)."""

    binary: bool
    scores: np.ndarray  # the isotonic steps, increasing
    probabilities: np.ndarray
    rows: int

    @classmethod
    def fit(cls, score: np.ndarray, outcome: np.ndarray, *, binary: bool) -> Calibration:
        """``score``: the positive class's probability (binary) or the winning class's;
        ``outcome``: the truth is positive (binary) or the prediction was right."""
        from sklearn.isotonic import IsotonicRegression

        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            score, outcome.astype(float)
        )
        return cls(
            binary=binary,
            scores=np.asarray(fitted.X_thresholds_, dtype=float),
            probabilities=np.asarray(fitted.y_thresholds_, dtype=float),
            rows=len(score),
        )

    def calibrate(self, score: np.ndarray) -> np.ndarray:
        return np.interp(score, self.scores, self.probabilities)


def estimate(
    calibration: Calibration, score: np.ndarray, called_positive: np.ndarray | None
) -> dict[str, float | None]:
    """Expected metrics of rows with ``score`` (NaN rows left out); ``called_positive`` says
    which rows the model called positive (binary only)."""
    known = ~np.isnan(score)
    if not known.any():
        return {}
    right = calibration.calibrate(score[known])
    if not calibration.binary or called_positive is None:
        return {"accuracy": float(right.mean())}
    called = called_positive[known]
    tp = float(right[called].sum())
    fp = float((1.0 - right[called]).sum())
    fn = float(right[~called].sum())
    tn = float((1.0 - right[~called]).sum())
    return {
        "accuracy": (tp + tn) / len(right),
        "precision": tp / (tp + fp) if tp + fp > 0 else None,
        "recall": tp / (tp + fn) if tp + fn > 0 else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else None,
    }
