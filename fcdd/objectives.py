"""The objectives as pure functions: FCDD (per-sample and per-pixel), HSC and AE.

Equation numbers refer to the FCDD paper (Liznerski et al., ICLR 2021). Labels always decide the
term per sample (0 = nominal, 1 = anomalous), whatever else is in the batch: the original applies
the anomalous term only when both labels are present, which pulls an all-anomalous batch to the
centre and silently inverts outlier exposure for small batches (reference §9.1 item 1).
"""

from __future__ import annotations

import torch
from torch import Tensor

# The original adds 1e-31 inside the log; clamping the argument instead keeps the loss finite at s=0
# without changing it elsewhere (1e-31 is representable in float32, so the two agree).
_LOG_FLOOR = 1e-31


def pseudo_huber(phi: Tensor) -> Tensor:
    """A(X) = sqrt(φ(X)² + 1) − 1, element-wise (Eq. 1's per-pixel term)."""
    return torch.sqrt(phi * phi + 1.0) - 1.0


def sample_scores(heatmap: Tensor) -> Tensor:
    """Per-sample anomaly score: the mean of the low-resolution map A over all its cells."""
    return heatmap.flatten(1).mean(dim=1)


def anomalous_term(score: Tensor) -> Tensor:
    """−log(1 − exp(−s)), the loss of a sample labelled anomalous (Eq. 1, second term).

    ``-expm1(-s)`` computes 1 − exp(−s) without cancellation for small s.
    """
    return -torch.log((-torch.expm1(-score)).clamp_min(_LOG_FLOOR))


def fcdd_sample_losses(phi: Tensor, labels: Tensor) -> Tensor:
    """Per-sample FCDD losses (Eq. 1): s for nominal samples, −log(1 − e^{−s}) for anomalous ones."""
    scores = sample_scores(pseudo_huber(phi))
    return torch.where(labels.bool(), anomalous_term(scores), scores)


def fcdd_loss(phi: Tensor, labels: Tensor) -> Tensor:
    """Mean FCDD loss over a batch of raw network outputs φ of shape (B, 1, h, w)."""
    return fcdd_sample_losses(phi, labels).mean()


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


def fcdd_gt_loss(upsampled: Tensor, gt_maps: Tensor) -> Tensor:
    """Mean per-pixel FCDD loss over a batch (see :func:`fcdd_gt_sample_losses`)."""
    return fcdd_gt_sample_losses(upsampled, gt_maps).mean()


def hsc_sample_losses(features: Tensor, labels: Tensor) -> Tensor:
    """Hypersphere classifier: ℓ = sqrt(‖φ‖² + 1) − 1 for nominal, −log(1 − e^{−ℓ}) for anomalous."""
    dist = torch.sqrt(features.flatten(1).pow(2).sum(dim=1) + 1.0) - 1.0
    return torch.where(labels.bool(), anomalous_term(dist), dist)


def hsc_loss(features: Tensor, labels: Tensor) -> Tensor:
    """Mean HSC loss over a batch of feature vectors."""
    return hsc_sample_losses(features, labels).mean()


def ae_sample_losses(reconstruction: Tensor, inputs: Tensor) -> Tensor:
    """Autoencoder: mean squared reconstruction error over C, H, W per sample (also the test score)."""
    return (reconstruction - inputs).pow(2).flatten(1).mean(dim=1)


def ae_loss(reconstruction: Tensor, inputs: Tensor) -> Tensor:
    """Mean reconstruction error over a batch."""
    return ae_sample_losses(reconstruction, inputs).mean()
