"""What each objective does with a network: its training losses, its test scores and heatmaps.

FCDD scores are the mean of the low-resolution pseudo-Huber map, whose receptive-field upsampling
is the heatmap. The HSC baseline scores the distance of a feature vector and explains it with input
gradients; the AE baseline scores and explains with the reconstruction error. Training, evaluation,
figures and `fcdd explain` all go through one :class:`Scorer`, looked up by objective name.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fcdd.heatmaps import receptive_upsample
from fcdd.objectives import (
    ae_sample_losses,
    fcdd_gt_sample_losses,
    fcdd_sample_losses,
    hsc_sample_losses,
    pseudo_huber,
    sample_scores,
)


def _resize(maps: Tensor, size: tuple[int, int]) -> Tensor:
    return maps if tuple(maps.shape[-2:]) == tuple(size) else F.interpolate(maps, size=size, mode="nearest")


@dataclass(frozen=True)
class FCDDScorer:
    """Fully convolutional data description (the method)."""

    gauss_std: float

    def losses(self, net: nn.Module, inputs: Tensor, labels: Tensor, gt_maps: Tensor | None) -> Tensor:
        """Per-sample losses; with ground-truth maps, the per-pixel variant on upsampled maps."""
        phi = net(inputs).float()
        if gt_maps is None:
            return fcdd_sample_losses(phi, labels)
        upsampled = receptive_upsample(
            pseudo_huber(phi), net.receptive_field, tuple(gt_maps.shape[-2:]), self.gauss_std
        )
        return fcdd_gt_sample_losses(upsampled, gt_maps)

    def score(self, net: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """(scores (B,), low-resolution maps A (B, 1, h, w))."""
        with torch.no_grad():
            maps = pseudo_huber(net(inputs).float())
        return sample_scores(maps), maps

    def upsample(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        """Receptive-field Gaussian upsampling to input resolution."""
        return receptive_upsample(maps.float(), net.receptive_field, size, self.gauss_std)


@dataclass(frozen=True)
class HSCScorer:
    """Hypersphere classifier baseline: heatmaps are input gradients (optionally blurred)."""

    blur_kernel: int = 0  # 0: no blur
    blur_sigma: float = 1.0

    def losses(self, net: nn.Module, inputs: Tensor, labels: Tensor, gt_maps: Tensor | None) -> Tensor:
        return hsc_sample_losses(net(inputs).float(), labels)

    def score(self, net: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
        from fcdd.baseline_heatmaps import blur_heatmaps, hsc_scores_and_gradient_heatmaps

        scores, maps = hsc_scores_and_gradient_heatmaps(net, inputs)
        scores, maps = scores.detach().float(), maps.detach().float()
        if self.blur_kernel:
            maps = blur_heatmaps(maps, self.blur_kernel, self.blur_sigma)
        return scores, maps.detach()

    def upsample(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        return _resize(maps.float(), size)


@dataclass(frozen=True)
class AEScorer:
    """Autoencoder baseline: the reconstruction error is both score and heatmap."""

    blur_kernel: int = 0
    blur_sigma: float = 1.0

    def losses(self, net: nn.Module, inputs: Tensor, labels: Tensor, gt_maps: Tensor | None) -> Tensor:
        return ae_sample_losses(net(inputs).float(), inputs.float())

    def score(self, net: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
        from fcdd.baseline_heatmaps import blur_heatmaps, reconstruction_heatmaps

        with torch.no_grad():
            recon = net(inputs).float()
        scores = ae_sample_losses(recon, inputs.float())
        maps = reconstruction_heatmaps(recon, inputs.float())
        if self.blur_kernel:
            maps = blur_heatmaps(maps, self.blur_kernel, self.blur_sigma)
        return scores, maps

    def upsample(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        return _resize(maps.float(), size)


Scorer = FCDDScorer | HSCScorer | AEScorer


def make_scorer(objective: str, *, gauss_std: float, blur: bool = False, net: nn.Module | None = None) -> Scorer:
    """The scorer of an objective; baseline blur kernels come from the net's FCDD counterpart."""
    if objective == "fcdd":
        return FCDDScorer(gauss_std)
    kernel = 0
    if blur and net is not None:
        from fcdd.baseline_heatmaps import blur_kernel_size

        kernel = blur_kernel_size(net.fcdd_counterpart)
    if objective == "hsc":
        return HSCScorer(kernel, gauss_std)
    if objective == "ae":
        return AEScorer(kernel, gauss_std)
    raise ValueError(f"unknown objective {objective!r}; choose fcdd, hsc or ae")
