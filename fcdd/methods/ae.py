"""The autoencoder (AE) baseline (reference §1.2): the reconstruction error is both score and heatmap.

The AE trains on nominal images only (the paper's unsupervised AE baseline). Its heatmaps are the
per-pixel squared errors, optionally blurred over the FCDD counterpart's receptive field.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from fcdd.config import HeatmapConfig
from fcdd.methods.base import Method, check_images, resize_nearest
from fcdd.methods.hsc import blur_picture, blur_settings
from fcdd.networks.autoencoders import AENet

# FCDD net -> AE (the original's pairs, §3.3). FCDD_CNN28_W gets the narrow AE28 (AE28_W exists and
# can be picked by name) and FCDD_CNN224_W the narrow AE224, as in the original.
COUNTERPARTS: dict[str, str] = {
    "FCDD_CNN28": "AE28",
    "FCDD_CNN28_W": "AE28",
    "FCDD_CNN32": "AE32",
    "FCDD_CNN32_S": "AE32",
    "FCDD_CNN32_LW3K": "AE32_LW3K",
    "FCDD_CNN224": "AE224",
    "FCDD_CNN224_W": "AE224",
    "FCDD_CNN224_VGG": "AE224_VGG",
    "FCDD_CNN224_VGG_NOPT": "AE224_VGG_NOPT",
    "FCDD_CNN224_VGG_F": "AE224_VGG_F",
}


def ae_sample_losses(reconstruction: Tensor, inputs: Tensor) -> Tensor:
    """Mean squared reconstruction error over C, H, W per sample (also the test score)."""
    return (reconstruction - inputs).pow(2).flatten(1).mean(dim=1)


def reconstruction_heatmaps(reconstructions: Tensor, inputs: Tensor) -> Tensor:
    """Per-pixel squared reconstruction error averaged over channels, (B, 1, H, W)."""
    check_images("inputs", inputs)
    if reconstructions.shape != inputs.shape:
        raise ValueError(
            f"reconstructions must have the inputs' shape {tuple(inputs.shape)}, got "
            f"{tuple(reconstructions.shape)}; use an AE built for this input size"
        )
    return (reconstructions - inputs).pow(2).mean(dim=1, keepdim=True)


@dataclass(frozen=True)
class AEScorer:
    """Scores and heatmaps are reconstruction errors; heatmaps shown blurred when ``blur_kernel`` > 0."""

    blur_kernel: int = 0
    blur_sigma: float = 1.0

    def losses(self, net: nn.Module, inputs: Tensor, labels: Tensor, gt_maps: Tensor | None) -> Tensor:
        return ae_sample_losses(net(inputs).float(), inputs.float())

    def score(self, net: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            recon = net(inputs).float()
        return ae_sample_losses(recon, inputs.float()), reconstruction_heatmaps(recon, inputs.float())

    def upsample(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        return resize_nearest(maps.float(), size)

    def picture(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        return self.upsample(net, blur_picture(maps, self.blur_kernel, self.blur_sigma), size)


def _scorer(heatmap: HeatmapConfig, net: nn.Module) -> AEScorer:
    return AEScorer(*blur_settings(heatmap, net))


METHOD = Method(
    name="ae",
    summary="autoencoder baseline: reconstruction-error heatmaps",
    network_base=AENet,
    make_scorer=_scorer,
    counterparts=COUNTERPARTS,
)
