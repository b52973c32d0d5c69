"""Heatmap colour scales: the quantile normalisation of the paper's appendix (tensors in, tensors out).

A heatmap is shown as (h − low) / high, clamped to [0, 1], where low is the minimum and high the
q-quantile of (h − low) over a label-balanced subsample of the heatmaps, so that every row of a
figure, and every image `fcdd explain` colours, uses one scale.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def quantile_bounds(values: Tensor, q: float) -> tuple[Tensor, Tensor]:
    """(minimum, q-quantile of value − minimum) of a flat set of heatmap values."""
    flat = values.flatten().float()
    low = flat.min()
    shifted = flat - low
    k = max(1, min(shifted.numel(), math.ceil(q * shifted.numel())))
    high = shifted.kthvalue(k).values
    return low, high


def normalise(heatmaps: Tensor, low: Tensor | float, high: Tensor | float) -> Tensor:
    """(h − low) / high, clamped to [0, 1]: heatmaps on a colour scale from :func:`quantile_bounds`."""
    high_t = torch.as_tensor(high, dtype=torch.float32)
    return ((heatmaps.float() - low) / high_t.clamp_min(1e-12)).clamp(0, 1)


def balanced_subset(labels: Tensor, generator: torch.Generator) -> Tensor:
    """Indices of a label-balanced random subset (as many of each label as the rarest one has)."""
    groups = [torch.nonzero(labels == value).flatten() for value in torch.unique(labels)]
    n = min(len(g) for g in groups)
    picks = [g[torch.randperm(len(g), generator=generator)[:n]] for g in groups]
    return torch.cat(picks)


def normalise_global(heatmaps: Tensor, labels: Tensor, q: float, generator: torch.Generator) -> Tensor:
    """:func:`normalise` with one (min, quantile) pair from a label-balanced subsample of ``heatmaps``.

    One subsample serves the whole set, so every row of a figure uses the same scale (the
    original draws a new subsample per row, §9.1 item 12).
    """
    subset = balanced_subset(labels.cpu(), generator)
    return normalise(heatmaps, *quantile_bounds(heatmaps[subset], q))
