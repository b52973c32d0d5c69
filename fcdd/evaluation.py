"""Evaluation: anomaly maps and scores for a set of images, and the sample-level ROC/AUC."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import roc_auc_score, roc_curve
from torch import Tensor, nn

from fcdd.objectives import pseudo_huber, sample_scores


@dataclass(frozen=True)
class Roc:
    """A ROC curve and its area."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float


@dataclass(frozen=True)
class EvalResult:
    """Per-sample scores of a test set and the sample-level ROC."""

    scores: Tensor  # float32 (M,)
    labels: Tensor  # int64 (M,), 1 = anomalous
    maps: Tensor  # float32 (M, 1, h, w): the low-resolution pseudo-Huber maps A
    roc: Roc


def autocast_context(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``dtype`` on ``device``, or a no-op for full precision."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@torch.no_grad()
def anomaly_maps(
    net: nn.Module,
    images: Tensor,
    transform: Callable[[Tensor], Tensor],
    *,
    batch_size: int,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
) -> Tensor:
    """Pseudo-Huber maps A (M, 1, h, w) on the CPU for raw images, in eval mode, batch by batch."""
    was_training = net.training
    net.eval()
    out = []
    try:
        for start in range(0, len(images), batch_size):
            batch = transform(images[start : start + batch_size].to(device).float())
            if channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with autocast_context(device, autocast_dtype):
                phi = net(batch)
            out.append(pseudo_huber(phi.float()).cpu())
    finally:
        net.train(was_training)
    return torch.cat(out) if out else torch.empty(0, 1, 1, 1)


def sample_roc(scores: Tensor, labels: Tensor) -> Roc:
    """Sample-level ROC with scikit-learn; anomalous (label 1) is the positive class.

    Non-finite scores are an error that says how many there are, instead of a crash deep in sklearn.
    """
    s = scores.detach().double().cpu().numpy()
    y = labels.cpu().numpy()
    bad = int((~np.isfinite(s)).sum())
    if bad:
        raise ValueError(f"{bad} of {len(s)} test scores are not finite (NaN/inf); the model diverged, lower --lr")
    if len(np.unique(y)) < 2:
        raise ValueError("the test set holds only one label; an AUC needs nominal and anomalous samples")
    fpr, tpr, thresholds = roc_curve(y, s)
    return Roc(fpr=fpr, tpr=tpr, thresholds=thresholds, auc=float(roc_auc_score(y, s)))


def evaluate(
    net: nn.Module,
    images: Tensor,
    labels: Tensor,
    transform: Callable[[Tensor], Tensor],
    *,
    batch_size: int,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
) -> EvalResult:
    """Score every image (mean of its map A) and compute the sample-level ROC."""
    maps = anomaly_maps(
        net,
        images,
        transform,
        batch_size=batch_size,
        device=device,
        autocast_dtype=autocast_dtype,
        channels_last=channels_last,
    )
    scores = sample_scores(maps)
    return EvalResult(scores=scores, labels=labels.cpu(), maps=maps, roc=sample_roc(scores, labels))
