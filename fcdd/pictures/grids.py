"""Heatmap grid figures of a run: which samples to show, upsampling and colouring them.

Each grid alternates a row of inputs (scaled for display) with a row of their heatmaps, for the
groups of :func:`fcdd.pictures.render.grid_selection`. One label-balanced global colour scale
(:mod:`fcdd.pictures.normalise`) serves the whole figure, so colours are comparable across rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from fcdd.config import RunConfig
from fcdd.data.base import ADData
from fcdd.engine.evaluate import EvalResult, score_images
from fcdd.engine.runtime import Runtime
from fcdd.methods.base import Scorer
from fcdd.pictures.normalise import balanced_subset, normalise, quantile_bounds
from fcdd.pictures.render import colourise, fit_tiles, grid_selection, tile_grid, to_display

if TYPE_CHECKING:
    from fcdd.anomalies.supervisor import SupervisedBatch

_MARGIN = 130  # pixels of left margin for row captions
_NORM_SAMPLES = 256  # heatmaps (per label at most) that set the global colour scale


Group = tuple[str, Tensor, Tensor, Tensor | None]


def _compose(
    groups: list[Group], low: Tensor | float, high: Tensor | float, tile_size: int
) -> tuple[Tensor, list[tuple[int, str]], int]:
    """groups: (caption, inputs (n,C,H,W) normalised, upsampled heatmaps (n,1,H,W), masks (n,1,H,W) or None)."""
    rows, captions = [], []
    for caption, inputs, heat, masks in groups:
        rows.append(fit_tiles(to_display(inputs), tile_size))
        rows.append(fit_tiles(colourise(normalise(heat, low, high)), tile_size))
        captions += [caption, "  heatmap"]
        if masks is not None:
            rows.append(fit_tiles(masks.float().expand(-1, 3, -1, -1), tile_size))
            captions.append("  ground truth")
    image = tile_grid(rows)
    tile_h = rows[0].shape[-2] + 2
    labels = [(2 + i * tile_h + tile_h // 2 - 6, text) for i, text in enumerate(captions)]
    return image, labels, _MARGIN


def heatmap_scale(
    result: EvalResult, net: nn.Module, scorer: Scorer, size: tuple[int, int], config: RunConfig
) -> tuple[float, float]:
    """(low, high) colour bounds of a run's test heatmaps, from a label-balanced subsample."""
    generator = torch.Generator().manual_seed(config.seed)
    idx = balanced_subset(result.labels, generator)[: 2 * _NORM_SAMPLES]
    low, high = quantile_bounds(scorer.picture(net, result.maps[idx], size), config.heatmap.quantile)
    return float(low), float(high)


def test_heatmap_grid(
    data: ADData, result: EvalResult, net: nn.Module, scorer: Scorer, config: RunConfig, scale: tuple[float, float]
) -> tuple[Tensor, list[tuple[int, str]], int]:
    """Grid of test samples: first nominal/anomalous, and the most nominal/anomalous-looking per label."""
    size = (data.input_shape[1], data.input_shape[2])
    groups: list[Group] = []
    for caption, idx in grid_selection(result.scores, result.labels, config.heatmap.n_samples).items():
        inputs = data.preprocessing.test(data.test_images[idx].float())
        masks = None
        if data.test_masks is not None:  # shown at input size; exact geometry is in the pixel metrics
            masks = torch.nn.functional.interpolate(data.test_masks[idx].float(), size=size, mode="nearest")
        groups.append((caption, inputs, scorer.picture(net, result.maps[idx], size), masks))
    return _compose(groups, scale[0], scale[1], config.heatmap.tile_size)


def train_heatmap_grid(
    data: ADData,
    net: nn.Module,
    supervisor: Callable[[Tensor, torch.Generator], SupervisedBatch],
    scorer: Scorer,
    config: RunConfig,
    runtime: Runtime,
) -> tuple[Tensor, list[tuple[int, str]], int]:
    """Grid of one augmented training batch with its generated anomalies, nominal and anomalous rows."""
    n = config.heatmap.n_samples
    # A generator of its own keeps the figure from touching the training random stream.
    generator = torch.Generator(device=runtime.device).manual_seed(config.seed + 1_000_003)
    raw = data.train_images[: 4 * n].to(runtime.device).float()
    mixed = supervisor(raw, generator)
    inputs, _ = data.preprocessing.train(mixed.images, generator, mixed.gt_maps)
    _, maps = score_images(net, inputs, lambda x: x, scorer, runtime, batch_size=len(inputs))
    size = (int(inputs.shape[-2]), int(inputs.shape[-1]))
    labels = mixed.labels.cpu()
    heat = scorer.picture(net, maps, size)
    low, high = quantile_bounds(heat, config.heatmap.quantile)
    groups: list[Group] = []
    for value, caption in ((0, "train nominal"), (1, "train anomalous")):
        idx = torch.nonzero(labels == value).flatten()[:n]
        if len(idx):
            groups.append((caption, inputs.cpu()[idx], heat[idx], None))
    return _compose(groups, low, high, config.heatmap.tile_size)
