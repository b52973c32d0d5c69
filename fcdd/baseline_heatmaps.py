"""Heatmaps of the baselines (reference §1.2, §2): HSC input gradients, AE reconstruction errors, blur.

FCDD's heatmap is its own output map; the baselines need one made for them. HSC explains a score
by how strongly each input pixel moves it (|∂ℓ/∂X|), the AE by how badly each pixel is
reconstructed. Both are full resolution and pixel-sharp, so for a fair visual comparison they
can be blurred with a Gaussian as wide as the receptive field of the FCDD net they are compared
with. The original blurred only gradient maps, and only in images (§9.1 item 7); here the blur is a
plain function that any heatmap — HSC or AE — can go through.
"""

from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fcdd.heatmaps import gaussian_kernel_1d
from fcdd.networks.baselines import BASELINE_NETWORKS
from fcdd.networks.registry import build_network

__all__ = [
    "blur_heatmaps",
    "blur_kernel_size",
    "hsc_gradient_heatmaps",
    "hsc_scores_and_gradient_heatmaps",
    "reconstruction_heatmaps",
]


def _check_images(name: str, tensor: Tensor) -> None:
    if tensor.dim() != 4:
        raise ValueError(f"`{name}` must be a (B, C, H, W) batch, got shape {tuple(tensor.shape)}")


def hsc_gradient_heatmaps(net: nn.Module, inputs: Tensor) -> Tensor:
    """|∂ℓ/∂X| summed over channels, (B, 1, H, W), with ℓ = sqrt(‖φ(X)‖² + 1) − 1 per sample.

    One backward pass serves the whole batch: the gradient of Σᵢ ℓᵢ w.r.t. sample i is ∂ℓᵢ/∂Xᵢ as
    long as samples do not interact, so put the net in ``eval()`` mode first (in train mode
    BatchNorm mixes the batch). Gradients are taken w.r.t. the inputs only: the net's parameters
    keep their ``.grad``, and this works inside ``torch.no_grad()`` too.
    """
    return hsc_scores_and_gradient_heatmaps(net, inputs)[1]


def hsc_scores_and_gradient_heatmaps(net: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
    """(ℓ per sample (B,), :func:`hsc_gradient_heatmaps`) from one forward pass: ℓ is the HSC test score."""
    _check_images("inputs", inputs)
    x = inputs.detach().requires_grad_(True)
    with torch.enable_grad():
        features = net(x)
        losses = torch.sqrt(features.flatten(1).pow(2).sum(dim=1) + 1.0) - 1.0
        (grad,) = torch.autograd.grad(losses.sum(), x)
    return losses.detach(), grad.abs().sum(dim=1, keepdim=True)


def reconstruction_heatmaps(reconstructions: Tensor, inputs: Tensor) -> Tensor:
    """Per-pixel squared reconstruction error averaged over channels, (B, 1, H, W)."""
    _check_images("inputs", inputs)
    if reconstructions.shape != inputs.shape:
        raise ValueError(
            f"reconstructions must have the inputs' shape {tuple(inputs.shape)}, got "
            f"{tuple(reconstructions.shape)}; use an AE built for this input size"
        )
    return (reconstructions - inputs).pow(2).mean(dim=1, keepdim=True)


def blur_heatmaps(maps: Tensor, kernel_size: int, sigma: float) -> Tensor:
    """Gaussian blur of every channel of ``maps`` (B, C, H, W) with an odd, sum-1 kernel.

    Taps come from :func:`fcdd.heatmaps.gaussian_kernel_1d`, normalised so the blur keeps a map's
    total (away from the borders). Borders reflect, as in the original's kornia blur, and fall
    back to replicating the edge when a map is too small for the kernel to reflect.
    """
    _check_images("maps", maps)
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(
            f"`kernel_size` must be an odd positive int, got kernel_size={kernel_size}; use blur_kernel_size(net_name)"
        )
    taps = gaussian_kernel_1d(kernel_size, sigma)  # validates sigma > 0
    taps = (taps / taps.sum()).to(device=maps.device, dtype=maps.dtype)
    batch, channels, height, width = maps.shape
    pad = kernel_size // 2
    mode = "reflect" if pad < min(height, width) else "replicate"
    flat = maps.reshape(batch * channels, 1, height, width)
    # The 2-D Gaussian is separable: a row pass, then a column pass.
    out = F.conv2d(F.pad(flat, (pad, pad, 0, 0), mode=mode), taps.view(1, 1, 1, -1))
    out = F.conv2d(F.pad(out, (0, 0, pad, pad), mode=mode), taps.view(1, 1, -1, 1))
    return out.reshape(batch, channels, height, width)


@cache
def blur_kernel_size(fcdd_counterpart_name: str) -> int:
    """Blur kernel size for heatmaps compared with FCDD net ``fcdd_counterpart_name``.

    The net's receptive-field extent r, made odd the original's way (r − 1 if r is even), so the
    kernel never reaches past one receptive field. A baseline net's name is accepted too and
    stands for its ``fcdd_counterpart``.
    """
    name = fcdd_counterpart_name
    if name in BASELINE_NETWORKS:
        name = BASELINE_NETWORKS[name].fcdd_counterpart  # type: ignore[attr-defined]
    # On the meta device the layers get shapes but no memory or initialisation: only the
    # receptive field, computed while building, is wanted.
    with torch.device("meta"):
        extent = build_network(name, pretrained=False).receptive_field.extent
    return extent if extent % 2 == 1 else extent - 1
