"""Test metrics of `losslab bench`, from scikit-learn where it has them.

Every function takes numpy arrays of test scores and labels and returns a float; a model
whose scores are not finite (it diverged) is scored NaN by the caller, never here.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve


def best_f1(labels: np.ndarray, scores: np.ndarray) -> float:
    """F1 at the threshold that maximises it: the best point on the precision-recall curve.

    Flattened over every element, so that for multi-label data this is micro F1 at the
    best single threshold.
    """
    precision, recall, _ = precision_recall_curve(labels.ravel(), scores.ravel())
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(f1.max())


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision over every element (all positions and classes pooled)."""
    return float(average_precision_score(labels.ravel(), scores.ravel()))


def macro_map(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean over classes of each class's average precision, (n, C) arrays."""
    return float(average_precision_score(labels, scores, average="macro"))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, *, bins: int = 15) -> float:
    """Top-label ECE (Guo et al. 2017): sum over confidence bins of |accuracy - confidence|,
    each weighted by its share of examples; 15 equal-width bins.

    Args:
        probs: (n, C) predicted class probabilities.
        labels: (n,) true classes.
    """
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)
