"""The sample-level ROC of per-sample scores: a run's test and validation sets, and the report's curves.

Plain NumPy, no torch and no scikit-learn, so ``fcdd report`` reads 1,000 runs' ``scores.npz``
without loading either: sklearn's input checks cost ten times the curve itself. The points are
those of :func:`sklearn.metrics.roc_curve` (one per distinct score, collinear ones dropped,
starting at (0, 0) with threshold +inf) and the AUC is the trapezoidal area under them, equal to
:func:`sklearn.metrics.roc_auc_score` bit for bit (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class Roc:
    """A ROC curve and its area."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float


def sample_roc(scores: ArrayLike, labels: ArrayLike) -> Roc:
    """Sample-level ROC; anomalous (label 1) is the positive class, higher scores more anomalous.

    Non-finite scores are an error that says how many there are; so is a set with one label (no AUC).
    CPU tensors are taken as they are (NumPy reads them without a copy).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores and labels must have the same length, got {len(s)} and {len(y)}")
    bad = int((~np.isfinite(s)).sum())
    if bad:
        raise ValueError(f"{bad} of {len(s)} test scores are not finite (NaN/inf); the model diverged, lower --lr")
    if len(np.unique(y)) < 2:
        raise ValueError("the test set holds only one label; an AUC needs nominal and anomalous samples")
    order = np.argsort(-s, kind="stable")  # within equal scores any order would do: only run ends are read
    ranked, positive = s[order], y[order] == 1
    last_of_each = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # one threshold per distinct score
    tps = np.cumsum(positive)[last_of_each]
    fps = last_of_each + 1 - tps
    thresholds = ranked[last_of_each]
    if len(fps) > 2:  # drop collinear points, as roc_curve(drop_intermediate=True)
        corner = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps, thresholds = fps[corner], tps[corner], thresholds[corner]
    fps, tps, thresholds = np.r_[0, fps], np.r_[0, tps], np.r_[np.inf, thresholds]
    fpr, tpr = fps / fps[-1], tps / tps[-1]
    return Roc(fpr=fpr, tpr=tpr, thresholds=thresholds, auc=float(np.trapezoid(tpr, fpr)))
