"""FCDD, the method: fully convolutional data description (Liznerski et al., ICLR 2021).

The network maps an image to a low-resolution map φ(X); its pseudo-Huber transform A(X) is both
the anomaly score (its mean) and the explanation (its receptive-field upsampling). Equation
numbers refer to the paper. Labels always decide the term per sample (0 = nominal,
1 = anomalous), whatever else is in the batch: the original applies the anomalous term only when
both labels are present, which pulls an all-anomalous batch to the centre and silently inverts
outlier exposure for small batches (reference §9.1 item 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from fcdd.config import HeatmapConfig
from fcdd.methods.base import Method, anomalous_term
from fcdd.methods.upsample import receptive_upsample
from fcdd.networks.receptive_field import FCDDNet, ReceptiveField


def pseudo_huber(phi: Tensor) -> Tensor:
    """A(X) = sqrt(φ(X)² + 1) − 1, element-wise (Eq. 1's per-pixel term)."""
    return torch.sqrt(phi * phi + 1.0) - 1.0


def sample_scores(heatmap: Tensor) -> Tensor:
    """Per-sample anomaly score: the mean of the low-resolution map A over all its cells."""
    return heatmap.flatten(1).mean(dim=1)


def fcdd_sample_losses(phi: Tensor, labels: Tensor) -> Tensor:
    """Per-sample FCDD losses (Eq. 1): s for nominal samples, −log(1 − e^{−s}) for anomalous ones."""
    scores = sample_scores(pseudo_huber(phi))
    return torch.where(labels.bool(), anomalous_term(scores), scores)


def fcdd_gt_sample_losses(upsampled: Tensor, gt_maps: Tensor) -> Tensor:
    """Per-sample per-pixel FCDD losses on Gaussian-upsampled maps A′ with ground-truth maps Y.

    loss_i = (1/HW) Σ (1−Y)⊙A′ − 1[ΣY>0]·log(1 − exp(−(1/HW) Σ Y⊙A′)). Both terms divide by the
    total pixel count, as in the reference (§1.1); samples without anomalous pixels skip the log term.
    """
    a = upsampled.flatten(1)
    y = gt_maps.flatten(1).to(a.dtype)
    nominal = ((1.0 - y) * a).mean(dim=1)
    anomalous_mean = (y * a).mean(dim=1)
    has_anomaly = y.sum(dim=1) > 0
    return nominal + torch.where(has_anomaly, anomalous_term(anomalous_mean), torch.zeros_like(nominal))


def _receptive_field(net: nn.Module) -> ReceptiveField:
    return cast(FCDDNet, net).receptive_field


@dataclass(frozen=True)
class FCDDScorer:
    """Scores are the mean of A; heatmaps are A, upsampled with the receptive-field Gaussian of σ ``gauss_std``."""

    gauss_std: float

    def losses(self, net: nn.Module, inputs: Tensor, labels: Tensor, gt_maps: Tensor | None) -> Tensor:
        """Per-sample losses; with ground-truth maps, the per-pixel variant on upsampled maps."""
        phi = net(inputs).float()
        if gt_maps is None:
            return fcdd_sample_losses(phi, labels)
        size = (int(gt_maps.shape[-2]), int(gt_maps.shape[-1]))
        upsampled = receptive_upsample(pseudo_huber(phi), _receptive_field(net), size, self.gauss_std)
        return fcdd_gt_sample_losses(upsampled, gt_maps)

    def score(self, net: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """(scores (B,), low-resolution maps A (B, 1, h, w))."""
        with torch.no_grad():
            maps = pseudo_huber(net(inputs).float())
        return sample_scores(maps), maps

    def upsample(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        """Receptive-field Gaussian upsampling to input resolution."""
        return receptive_upsample(maps.float(), _receptive_field(net), size, self.gauss_std)

    def picture(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        """The upsampled map: FCDD's explanation is its own output."""
        return self.upsample(net, maps, size)


def _scorer(heatmap: HeatmapConfig, net: nn.Module) -> FCDDScorer:
    return FCDDScorer(heatmap.gauss_std)


METHOD = Method(
    name="fcdd",
    summary="fully convolutional data description: the output map is the explanation",
    network_base=FCDDNet,
    make_scorer=_scorer,
)
