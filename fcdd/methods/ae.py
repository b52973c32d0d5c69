"""The autoencoder (AE) baseline (reference §1.2): the reconstruction error is both score and heatmap.

The AE trains on nominal images only (the paper's unsupervised AE baseline). Its heatmaps are the
per-pixel squared errors, optionally blurred over the FCDD counterpart's receptive field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from fcdd.config import HeatmapConfig, RunConfig
from fcdd.methods.base import Method, check_images, resize_nearest, stand_in
from fcdd.methods.hsc import blur_picture, blur_settings
from fcdd.networks.autoencoders import AENet

# FCDD net -> AE where the original's table (reference §3.3) does not take the one AE naming that
# FCDD net as its `fcdd_counterpart` (an AE's is its encoder's): FCDD_CNN28_W gets the narrow AE28
# (AE28_W exists and can be picked by name) and FCDD_CNN224_W the narrow AE224, as in the original;
# FCDD_CNN32 maps like FCDD_CNN32_S. The other pairs follow from the nets.
COUNTERPART_PICKS: dict[str, str] = {
    "FCDD_CNN28_W": "AE28",
    "FCDD_CNN32": "AE32",
    "FCDD_CNN224_W": "AE224",
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


def baseline(fcdd: RunConfig) -> dict[str, Any]:
    """The AE baseline of an FCDD config: its counterpart net and blurred heatmaps, trained unsupervised.

    The paper's AE baseline trains on nominal images only, so without an outlier-exposure folder either.
    """
    changes = {**stand_in(METHOD, fcdd), "anomalies.supervise_mode": "unsupervised"}
    if fcdd.anomalies.oe_folder is not None:
        changes["anomalies.oe_folder"] = None
    return changes


METHOD = Method(
    name="ae",
    summary="autoencoder baseline: reconstruction-error heatmaps",
    network_base=AENet,
    make_scorer=_scorer,
    baseline=baseline,
    counterpart_picks=COUNTERPART_PICKS,
)
