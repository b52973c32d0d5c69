"""Pixel-level evaluation with bounded memory: a binned ROC that accumulates counts batch by batch.

The original collects every full-resolution heatmap pixel in Python lists before calling
scikit-learn (tens of GB on MVTec). Here each batch only adds its pixels to two fixed-size
histograms (anomalous and nominal pixel counts per score bin), from which the ROC and its area
follow; with 2^16 bins over the observed score range the AUC agrees with the exact one to about
1e-4 (pixels whose scores share a bin count as ties).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor


@dataclass
class BinnedRoc:
    """Histograms of positive and negative scores on ``bins`` equal bins over [low, high]."""

    low: float
    high: float
    bins: int = 1 << 16

    def __post_init__(self) -> None:
        if not self.high > self.low:
            self.high = self.low + 1.0  # a constant score map: every pixel falls in one bin
        self.positives = torch.zeros(self.bins, dtype=torch.float64)
        self.negatives = torch.zeros(self.bins, dtype=torch.float64)

    def update(self, scores: Tensor, labels: Tensor) -> None:
        """Add pixels: ``scores`` float and ``labels`` bool (True = anomalous) of the same shape."""
        scale = (self.bins - 1) / (self.high - self.low)
        index = ((scores.detach().double().flatten() - self.low) * scale).round().clamp(0, self.bins - 1).long().cpu()
        positive = labels.flatten().bool().cpu()
        self.positives += torch.bincount(index[positive], minlength=self.bins).double()
        self.negatives += torch.bincount(index[~positive], minlength=self.bins).double()

    @property
    def counts(self) -> tuple[float, float]:
        """(anomalous pixels, nominal pixels) seen so far."""
        return float(self.positives.sum()), float(self.negatives.sum())

    def auc(self) -> float:
        """P(score of an anomalous pixel > score of a nominal one), ties (same bin) counted half."""
        n_pos, n_neg = self.counts
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        below = torch.cumsum(self.negatives, 0) - self.negatives  # nominal pixels in lower bins
        wins = (self.positives * below).sum() + 0.5 * (self.positives * self.negatives).sum()
        return float(wins / (n_pos * n_neg))

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(fpr, tpr) with one point per bin threshold, from the highest threshold down."""
        n_pos, n_neg = self.counts
        tpr = torch.cumsum(self.positives.flip(0), 0) / max(n_pos, 1.0)
        fpr = torch.cumsum(self.negatives.flip(0), 0) / max(n_neg, 1.0)
        return np.concatenate([[0.0], fpr.numpy()]), np.concatenate([[0.0], tpr.numpy()])


def read_mask(path: str | None, size: tuple[int, int]) -> Tensor:
    """A mask file as a bool (H, W) tensor (> 0 = anomalous); ``None`` gives an all-False mask of ``size``."""
    if path is None:
        return torch.zeros(size, dtype=torch.bool)
    with Image.open(path) as image:
        array = np.asarray(image.convert("L"))
    return torch.from_numpy(array > 0)


def original_size(path: str | None, fallback: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of a mask file without decoding its pixels."""
    if path is None:
        return fallback
    with Image.open(path) as image:
        return image.height, image.width


def pixel_roc(
    heatmaps: Iterable[tuple[Tensor, list[str | None]]],
    *,
    low: float,
    high: float,
    fallback_size: tuple[int, int],
    bins: int = 1 << 16,
) -> BinnedRoc:
    """Pool every pixel of every test image at its mask's original resolution into one binned ROC.

    ``heatmaps`` yields batches of (upsampled maps (B, 1, h, w), mask file per image). Each map is
    resized to its mask's size with nearest-neighbour interpolation (as the reference does); images
    without a mask file count as all-nominal at ``fallback_size``.
    """
    roc = BinnedRoc(low, high, bins)
    for maps, files in heatmaps:
        for heat, path in zip(maps, files, strict=True):
            mask = read_mask(path, fallback_size)
            resized = F.interpolate(heat[None].float(), size=tuple(mask.shape), mode="nearest")[0, 0]
            roc.update(resized, mask)
    return roc
