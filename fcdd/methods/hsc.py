"""The hypersphere classifier (HSC) baseline (reference §1.2): a feature vector's distance from the centre.

The net maps an image to φ ∈ ℝ^d; the score is ℓ = sqrt(‖φ‖² + 1) − 1 and the loss uses the same
two terms as FCDD. HSC explains a score by how strongly each input pixel moves it, |∂ℓ/∂X|,
optionally blurred over the FCDD counterpart's receptive field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from fcdd.config import HeatmapConfig, RunConfig
from fcdd.methods.base import Method, anomalous_term, check_images, resize_nearest, stand_in
from fcdd.methods.blur import blur_heatmaps, blur_kernel_size
from fcdd.networks.hsc import HSCNet

# FCDD net -> HSC net where the original's table (reference §3.3) does not take the one HSC net
# naming that FCDD net as its `fcdd_counterpart`: FCDD_CNN224_W gets the narrow CNN224, and
# FCDD_CNN224_VGG_NOPT the full-classifier CNN224_VGG_NOPT_1000 (CNN224_VGG_NOPT names it too), for
# comparability with the paper. FCDD_CNN32, absent from the original table, maps like FCDD_CNN32_S:
# CNN32 is the only 5×5 32×32 HSC net. The other pairs follow from the nets.
COUNTERPART_PICKS: dict[str, str] = {
    "FCDD_CNN32": "CNN32",
    "FCDD_CNN224_W": "CNN224",
    "FCDD_CNN224_VGG_NOPT": "CNN224_VGG_NOPT_1000",
}


def hsc_distance(features: Tensor) -> Tensor:
    """ℓ = sqrt(‖φ‖² + 1) − 1 per sample, for feature vectors (B, d): the HSC test score."""
    return torch.sqrt(features.flatten(1).pow(2).sum(dim=1) + 1.0) - 1.0


def hsc_sample_losses(features: Tensor, labels: Tensor) -> Tensor:
    """ℓ for nominal samples, −log(1 − e^{−ℓ}) for anomalous ones."""
    dist = hsc_distance(features)
    return torch.where(labels.bool(), anomalous_term(dist), dist)


def hsc_scores_and_gradient_heatmaps(net: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
    """(ℓ per sample (B,), |∂ℓ/∂X| summed over channels (B, 1, H, W)) from one forward pass.

    One backward pass serves the whole batch: the gradient of Σᵢ ℓᵢ w.r.t. sample i is ∂ℓᵢ/∂Xᵢ as
    long as samples do not interact, so put the net in ``eval()`` mode first (in train mode
    BatchNorm mixes the batch). Gradients are taken w.r.t. the inputs only: the net's parameters
    keep their ``.grad``, and this works inside ``torch.no_grad()`` too.
    """
    check_images("inputs", inputs)
    x = inputs.detach().requires_grad_(True)
    with torch.enable_grad():
        losses = hsc_distance(net(x))
        (grad,) = torch.autograd.grad(losses.sum(), x)
    return losses.detach(), grad.abs().sum(dim=1, keepdim=True)


@dataclass(frozen=True)
class HSCScorer:
    """Scores are ℓ; heatmaps are input gradients, shown blurred when ``blur_kernel`` > 0."""

    blur_kernel: int = 0  # 0: no blur
    blur_sigma: float = 1.0

    def losses(self, net: nn.Module, inputs: Tensor, labels: Tensor, gt_maps: Tensor | None) -> Tensor:
        return hsc_sample_losses(net(inputs).float(), labels)

    def score(self, net: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
        scores, maps = hsc_scores_and_gradient_heatmaps(net, inputs)
        return scores.detach().float(), maps.detach().float()

    def upsample(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        return resize_nearest(maps.float(), size)

    def picture(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        return self.upsample(net, blur_picture(maps, self.blur_kernel, self.blur_sigma), size)


def blur_picture(maps: Tensor, kernel: int, sigma: float) -> Tensor:
    """The baselines' heatmaps as pictures: blurred with ``kernel`` taps of σ ``sigma`` (0 taps: as they are).

    As in the original, the blur is for the pictures only: the pixel metrics see the raw maps.
    """
    return blur_heatmaps(maps.float(), kernel, sigma) if kernel else maps


def blur_settings(heatmap: HeatmapConfig, net: nn.Module) -> tuple[int, float]:
    """(kernel size, σ) of a baseline's heatmap blur: (0, σ) when blurring is off."""
    sigma = heatmap.blur_std if heatmap.blur_std is not None else heatmap.gauss_std
    kernel = blur_kernel_size(getattr(net, "fcdd_counterpart")) if heatmap.blur else 0  # noqa: B009
    return kernel, sigma


def _scorer(heatmap: HeatmapConfig, net: nn.Module) -> HSCScorer:
    return HSCScorer(*blur_settings(heatmap, net))


def baseline(fcdd: RunConfig) -> dict[str, Any]:
    """The HSC baseline of an FCDD config: :func:`~fcdd.methods.base.stand_in`, nothing more."""
    return stand_in(METHOD, fcdd)


METHOD = Method(
    name="hsc",
    summary="hypersphere classifier baseline: input-gradient heatmaps",
    network_base=HSCNet,
    make_scorer=_scorer,
    baseline=baseline,
    counterpart_picks=COUNTERPART_PICKS,
)
