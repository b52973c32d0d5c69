"""Receptive-field Gaussian upsampling of FCDD's low-resolution maps (tensors in, tensors out).

The low-resolution map A (one cell per receptive field) is brought to input resolution with a
transposed convolution whose kernel is an r×r Gaussian (r = receptive field), stride = jump,
then cropped so cell centres land on their receptive-field centres (FCDD paper, Sec. 3).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor


class ReceptiveFieldLike(Protocol):
    """Anything with the receptive-field numbers of a network's output cells."""

    @property
    def extent(self) -> int: ...

    @property
    def jump(self) -> int: ...

    @property
    def start(self) -> float: ...


def gaussian_kernel_1d(size: int, std: float) -> Tensor:
    """Unnormalised 1-D Gaussian of ``size`` taps (peak 1 for odd sizes).

    For even sizes, ``size - 1`` taps are sampled, the centre tap is duplicated and everything is
    halved (peak 0.5), which is the reference's rule (§2) and keeps the kernel symmetric.
    """
    if size < 1:
        raise ValueError(f"`size` must be >= 1, got size={size}")
    if std <= 0:
        raise ValueError(f"`std` must be > 0, got std={std}")
    odd = size if size % 2 == 1 else size - 1
    x = torch.arange(odd, dtype=torch.float64) - (odd - 1) / 2
    g = torch.exp(-(x**2) / (2 * std**2))
    if odd != size:
        centre = (odd - 1) // 2
        g = torch.cat([g[: centre + 1], g[centre:]]) / 2
    return g.float()


def _build_kernel(size: int, std: float, device: str, dtype: torch.dtype) -> Tensor:
    g = gaussian_kernel_1d(size, std)
    return torch.outer(g, g).to(device=device, dtype=dtype)[None, None]


_cached_kernel = lru_cache(maxsize=32)(_build_kernel)


def _kernel(size: int, std: float, device: str, dtype: torch.dtype) -> Tensor:
    # While a graph is captured for export (fcdd.deploy), build the kernel inside it and never cache it:
    # torch.export makes fake tensors here (a cached one would reach every later eager call), and
    # torch.jit.trace must see the same operations on each of its checking runs.
    if torch.compiler.is_compiling() or torch.jit.is_tracing():  # type: ignore[attr-defined, no-untyped-call]
        return _build_kernel(size, std, device, dtype)
    return _cached_kernel(size, std, device, dtype)


def gaussian_kernel_2d(size: int, std: float) -> Tensor:
    """Outer product of :func:`gaussian_kernel_1d` with itself, shape (size, size)."""
    g = gaussian_kernel_1d(size, std)
    return torch.outer(g, g)


def receptive_upsample(heatmap: Tensor, rf: ReceptiveFieldLike, out_size: tuple[int, int], std: float) -> Tensor:
    """Upsample low-res maps (B, 1, h, w) to ``out_size`` with the receptive-field Gaussian.

    Cell (i, k) adds the Gaussian centred on input pixel (start + i·jump, start + k·jump).
    """
    r, j = int(rf.extent), int(rf.jump)
    kernel = _kernel(r, float(std), str(heatmap.device), heatmap.dtype)
    full = F.conv_transpose2d(heatmap, kernel, stride=j)
    # Transposed-conv index of input pixel p is p - start + (r-1)/2, floored like the reference.
    offset = (r - 1) // 2 - int(math.floor(rf.start))
    height, width = out_size
    pad_bottom = max(0, offset + height - full.shape[-2])
    pad_right = max(0, offset + width - full.shape[-1])
    pad_top = pad_left = max(0, -offset)
    if pad_bottom or pad_right or pad_top:
        full = F.pad(full, (pad_left, pad_right, pad_top, pad_bottom))
    # Offsets are the same along both axes: the receptive field is square.
    top = offset + pad_top
    return full[..., top : top + height, top : top + width]
