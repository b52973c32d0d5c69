"""Evaluation: anomaly maps and scores for a set of images, the sample-level ROC/AUC, and pixel metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from fcdd.engine.pixel_metrics import MaskFiles, MaskTensor, pixel_curves
from fcdd.engine.roc import Roc, sample_roc
from fcdd.engine.runtime import Runtime, autocast_context
from fcdd.methods.base import Scorer


@dataclass(frozen=True)
class EvalResult:
    """Per-sample scores of a test set and the sample-level ROC."""

    scores: Tensor  # float32 (M,)
    labels: Tensor  # int64 (M,), 1 = anomalous
    maps: Tensor  # float32 (M, 1, h, w): the low-resolution pseudo-Huber maps A
    roc: Roc


def score_images(
    net: nn.Module,
    images: Tensor,
    transform: Callable[[Tensor], Tensor],
    scorer: Scorer,
    runtime: Runtime,
    *,
    batch_size: int,
) -> tuple[Tensor, Tensor]:
    """Scores (M,) and heatmaps (M, 1, h, w) on the CPU for raw images, in eval mode, batch by batch.

    FCDD heatmaps are the low-resolution maps A (upsample them with ``scorer.upsample``).
    """
    was_training = net.training
    net.eval()
    scores, maps = [], []
    try:
        for start in range(0, len(images), batch_size):
            batch = transform(images[start : start + batch_size].to(runtime.device).float())
            if runtime.channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with autocast_context(runtime):
                s, m = scorer.score(net, batch)
            scores.append(s.float().cpu())
            maps.append(m.float().cpu())
    finally:
        net.train(was_training)
    if not scores:
        return torch.empty(0), torch.empty(0, 1, 1, 1)
    return torch.cat(scores), torch.cat(maps)


def evaluate(
    net: nn.Module,
    images: Tensor,
    labels: Tensor,
    transform: Callable[[Tensor], Tensor],
    scorer: Scorer,
    runtime: Runtime,
    *,
    batch_size: int,
) -> EvalResult:
    """Score every image and compute the sample-level ROC."""
    scores, maps = score_images(net, images, transform, scorer, runtime, batch_size=batch_size)
    return EvalResult(scores=scores, labels=labels.cpu(), maps=maps, roc=sample_roc(scores.cpu(), labels.cpu()))


@dataclass(frozen=True)
class PixelEvalResult:
    """Pixel-level results against ground-truth masks at their original resolution."""

    auc: float  # pooled pixel AUC over every test pixel
    aupro: float  # area under the per-region-overlap curve up to FPR 0.3, divided by 0.3
    max_score_auc: float  # sample AUC when an image's score is the maximum of its heatmap
    fpr: np.ndarray
    tpr: np.ndarray
    anomalous_pixels: int
    pixels: int


def evaluate_pixels(
    heatmaps: Callable[[slice], Tensor],
    labels: Tensor,
    masks: MaskFiles | MaskTensor,
    *,
    batch_size: int = 32,
) -> PixelEvalResult:
    """Pixel AUC, AUPRO and max-score AUC of full-resolution heatmaps, batch by batch, in bounded memory.

    ``heatmaps(slice)`` gives the heatmaps (B, 1, H, W) at input resolution of the test images in
    that slice (``len(labels)`` images). Two light passes: one finds the score range for the bins
    and each image's peak, one fills the bins; only one batch of heatmaps exists at a time.
    """
    n = len(labels)
    slices = [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    low, high, peaks = float("inf"), float("-inf"), []
    for part in slices:
        up = heatmaps(part)
        low, high = min(low, float(up.min())), max(high, float(up.max()))
        peaks.append(up.flatten(1).max(dim=1).values)
    batches = ((heatmaps(part), range(part.start, part.stop)) for part in slices)
    curves = pixel_curves(batches, masks, low=low, high=high)
    fpr, tpr = curves.roc.curve()
    positives, negatives = curves.roc.counts
    return PixelEvalResult(
        auc=curves.roc.auc(),
        aupro=curves.aupro(),
        max_score_auc=sample_roc(torch.cat(peaks).cpu(), labels.cpu()).auc,
        fpr=fpr,
        tpr=tpr,
        anomalous_pixels=int(positives),
        pixels=int(positives + negatives),
    )
