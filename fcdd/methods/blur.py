"""The baselines' heatmap blur (reference §2): a Gaussian as wide as the FCDD counterpart's receptive field.

HSC gradient maps and AE reconstruction errors are full resolution and pixel-sharp; for a fair
visual comparison with FCDD they can be blurred with a Gaussian as wide as the receptive field of
the FCDD net they are compared with. The original blurred only gradient maps, and only in images
(§9.1 item 7); here the blur is a plain function that any heatmap — HSC or AE — can go through.
"""

from __future__ import annotations

from functools import cache
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor

from fcdd.methods.base import check_images
from fcdd.methods.upsample import gaussian_kernel_1d
from fcdd.networks.build import build_network, network_class
from fcdd.networks.receptive_field import FCDDNet

__all__ = ["blur_heatmaps", "blur_kernel_size"]


def blur_heatmaps(maps: Tensor, kernel_size: int, sigma: float) -> Tensor:
    """Gaussian blur of every channel of ``maps`` (B, C, H, W) with an odd, sum-1 kernel.

    Taps come from :func:`fcdd.methods.upsample.gaussian_kernel_1d`, normalised so the blur keeps a map's
    total (away from the borders). Borders reflect, as in the original's kornia blur, and fall
    back to replicating the edge when a map is too small for the kernel to reflect.
    """
    check_images("maps", maps)
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
    counterpart = getattr(network_class(name), "fcdd_counterpart", None)
    if counterpart is not None:  # a baseline net: its FCDD counterpart's receptive field
        name = counterpart
    # On the meta device the layers get shapes but no memory or initialisation: only the
    # receptive field, computed while building, is wanted.
    with torch.device("meta"):
        net = cast(FCDDNet, build_network(name, pretrained=False))
    extent = int(net.receptive_field.extent)
    return extent if extent % 2 == 1 else extent - 1
