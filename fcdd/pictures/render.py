"""Pure picture-making: colour maps, display scaling, overlays and tile grids (tensors in, tensors out).

Nothing here writes files; :mod:`fcdd.artifacts` does that.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor


@lru_cache(maxsize=4)
def _colour_table(name: str) -> Tensor:
    import matplotlib

    cmap = matplotlib.colormaps[name]
    return torch.tensor(cmap(torch.linspace(0, 1, 256).numpy())[:, :3], dtype=torch.float32)


def colourise(maps: Tensor, cmap: str = "jet") -> Tensor:
    """Map values in [0, 1] of shape (N, 1, H, W) to RGB (N, 3, H, W) in [0, 1] with a matplotlib colour map."""
    table = _colour_table(cmap).to(maps.device)
    index = (maps[:, 0].clamp(0, 1) * 255).round().long()
    return table[index].permute(0, 3, 1, 2).contiguous()


def to_display(images: Tensor) -> Tensor:
    """Scale each image to [0, 1] by its own min and max and make it RGB, for showing network inputs."""
    flat = images.float().flatten(1)
    low = flat.min(dim=1).values[:, None, None, None]
    high = flat.max(dim=1).values[:, None, None, None]
    out = (images.float() - low) / (high - low).clamp_min(1e-12)
    return out.expand(-1, 3, -1, -1) if out.shape[1] == 1 else out


def overlay(images: Tensor, heat_rgb: Tensor, alpha: float = 0.5) -> Tensor:
    """Blend display images (N, 3, H, W) in [0, 1] with coloured heatmaps of the same shape."""
    return ((1 - alpha) * images + alpha * heat_rgb).clamp(0, 1)


def fit_tiles(images: Tensor, tile_size: int) -> Tensor:
    """Scale tiles (nearest) to about ``tile_size`` pixels: large ones down, small ones up by an integer factor."""
    height, width = images.shape[-2:]
    side = max(height, width)
    if side > tile_size:
        scale = tile_size / side
    elif side * 2 <= tile_size:
        scale = float(tile_size // side)  # integer factors keep pixels square and crisp
    else:
        return images
    return F.interpolate(images, size=(round(height * scale), round(width * scale)), mode="nearest")


def tile_grid(rows: list[Tensor], padding: int = 2, fill: float = 1.0) -> Tensor:
    """Stack rows of tiles (each (n_i, 3, H, W), same H and W) into one image (3, H', W').

    Rows with fewer tiles than the longest are padded with ``fill``.
    """
    if not rows:
        raise ValueError("`rows` must hold at least one row of tiles")
    height, width = rows[0].shape[-2:]
    columns = max(len(r) for r in rows)
    out = torch.full((3, len(rows) * (height + padding) + padding, columns * (width + padding) + padding), fill)
    for i, row in enumerate(rows):
        top = padding + i * (height + padding)
        for k, tile in enumerate(row):
            left = padding + k * (width + padding)
            out[:, top : top + height, left : left + width] = tile
    return out


def grid_selection(scores: Tensor, labels: Tensor, n: int) -> dict[str, Tensor]:
    """Which samples a heatmap grid shows, by name, like the original's figures.

    The first ``n`` nominal and anomalous samples, then for each label the ``n // 2`` samples
    with the lowest and the highest scores.
    """
    selection: dict[str, Tensor] = {}
    k = max(1, n // 2)
    for value, name in ((0, "nominal"), (1, "anomalous")):
        idx = torch.nonzero(labels == value).flatten()
        if len(idx) == 0:
            continue
        selection[f"{name}: first"] = idx[:n]
        order = idx[torch.argsort(scores[idx], stable=True)]
        selection[f"{name}: lowest scores"] = order[:k]
        selection[f"{name}: highest scores"] = order.flip(0)[:k]
    return selection
