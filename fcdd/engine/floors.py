"""Floors for the pixel metrics: what a pixel AUC or AUPRO is worth on a dataset before anything is learnt.

* The **constant map**: a low-resolution map of ones, upsampled exactly like the method's maps.
  FCDD's receptive-field upsampling gives the image centre more weight than its border, so a
  constant map already scores well wherever defects lie mid-image (0.94 pixel AUC on the MVTec 3D
  tire at 32 px, where FCDD reports 0.94-0.95).
* The **per-pixel z-score**: |x − μ| / σ per pixel and channel over the nominal training images,
  averaged over channels, at the network's input size; the simplest model that looks at the data.

Both are evaluated on the same test set and masks as the method, in bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from fcdd.engine.evaluate import PixelEvalResult, evaluate_pixels
from fcdd.engine.pixel_metrics import MaskFiles

_CHUNK = 64  # images per float copy


def _resized(images: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False)


@dataclass(frozen=True)
class ZScore:
    """Per-pixel mean and std (C, H, W) of nominal images at one size, on the 0..255 scale."""

    mean: Tensor
    std: Tensor

    @classmethod
    def fit(cls, images: Tensor, size: tuple[int, int]) -> ZScore:
        """Statistics of uint8 ``images`` (N, C, h, w) resized to ``size``; σ at least one grey level."""
        total = torch.zeros((images.shape[1], *size), dtype=torch.float64)
        squares = torch.zeros_like(total)
        for start in range(0, len(images), _CHUNK):
            part = _resized(images[start : start + _CHUNK], size).double()
            total += part.sum(0)
            squares += (part * part).sum(0)
        n = max(len(images), 1)
        mean = total / n
        std = (squares / n - mean * mean).clamp_min(0).sqrt().clamp_min(1.0)
        return cls(mean.float(), std.float())

    def maps(self, images: Tensor) -> Tensor:
        """|x − μ| / σ averaged over channels: (B, 1, H, W) for uint8 images (B, C, h, w)."""
        size = (int(self.mean.shape[-2]), int(self.mean.shape[-1]))
        return ((_resized(images, size) - self.mean) / self.std).abs().mean(dim=1, keepdim=True)


def pixel_floors(
    train_images: Tensor,
    test_images: Tensor,
    labels: Tensor,
    masks: MaskFiles,
    low_res_maps: Tensor,
    upsample: Callable[[Tensor], Tensor],
    size: tuple[int, int],
) -> dict[str, PixelEvalResult]:
    """The constant-map and z-score floors of a run: ``{"constant": ..., "zscore": ...}``."""
    ones = torch.ones_like(low_res_maps[:1])
    constant = upsample(ones)  # every test image gets the same map

    def constant_maps(part: slice) -> Tensor:
        return constant.expand(part.stop - part.start, -1, -1, -1)

    zscore = ZScore.fit(train_images, size)
    return {
        "constant": evaluate_pixels(constant_maps, labels, masks),
        "zscore": evaluate_pixels(lambda part: zscore.maps(test_images[part]), labels, masks),
    }
