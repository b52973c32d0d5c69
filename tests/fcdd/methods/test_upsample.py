"""Receptive-field upsampling: Gaussian kernels by hand, and the transposed convolution against a loop."""

import math
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

from fcdd.methods.upsample import ReceptiveFieldLike, gaussian_kernel_1d, gaussian_kernel_2d, receptive_upsample


@dataclass(frozen=True)
class RF:
    extent: int
    jump: int
    start: float


def _receptive_upsample_naive(heatmap: Tensor, rf: ReceptiveFieldLike, out_size: tuple[int, int], std: float) -> Tensor:
    """Loop version of :func:`receptive_upsample`, the differential oracle: paste one kernel per cell."""
    r, j = int(rf.extent), int(rf.jump)
    kernel = gaussian_kernel_2d(r, std).to(heatmap)
    batch, _, h, w = heatmap.shape
    height, width = out_size
    out = torch.zeros(batch, 1, height, width, dtype=heatmap.dtype)
    half = (r - 1) // 2
    for i in range(h):
        for k in range(w):
            top = i * j + int(math.floor(rf.start)) - half
            left = k * j + int(math.floor(rf.start)) - half
            for a in range(r):
                for b in range(r):
                    y, x = top + a, left + b
                    if 0 <= y < height and 0 <= x < width:
                        out[:, 0, y, x] += heatmap[:, 0, i, k] * kernel[a, b]
    return out


def test_odd_kernel_peak_is_one_and_symmetric():
    g = gaussian_kernel_1d(5, 1.0)
    assert g[2].item() == pytest.approx(1.0)
    assert g[0].item() == pytest.approx(math.exp(-2.0), rel=1e-6)  # x = -2, σ = 1
    assert torch.allclose(g, g.flip(0))


def test_even_kernel_duplicates_centre_and_halves():
    g = gaussian_kernel_1d(4, 1.0)
    # 3 taps [e^-0.5, 1, e^-0.5] → centre duplicated → halved
    expected = torch.tensor([math.exp(-0.5), 1.0, 1.0, math.exp(-0.5)]) / 2
    assert torch.allclose(g, expected, atol=1e-6)
    assert gaussian_kernel_2d(4, 1.0).max().item() == pytest.approx(0.25)


def test_kernel_rejects_bad_arguments():
    with pytest.raises(ValueError, match="std"):
        gaussian_kernel_1d(3, 0.0)


def test_single_cell_upsample_places_kernel_at_receptive_centre():
    # one output cell, r = 5, start 2: centre at pixel 2 of a 5x5 input
    rf = RF(extent=5, jump=1, start=2.0)
    up = receptive_upsample(torch.ones(1, 1, 1, 1), rf, (5, 5), std=1.0)
    assert up[0, 0, 2, 2].item() == pytest.approx(1.0)
    assert up.sum().item() == pytest.approx(gaussian_kernel_2d(5, 1.0).sum().item(), rel=1e-5)


@pytest.mark.parametrize(
    ("rf", "hw", "out"),
    [
        (RF(16, 4, 1.5), 7, 28),  # FCDD_CNN28
        (RF(22, 4, 1.5), 8, 32),  # FCDD_CNN32_LW3K
        (RF(7, 2, 0.0), 4, 8),  # start 0: kernel partly outside the image
        (RF(9, 3, 3.5), 3, 10),
    ],
)
def test_transposed_conv_matches_naive_loop(rf, hw, out):
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(2, 1, hw, hw, generator=g, dtype=torch.float64)
    fast = receptive_upsample(maps, rf, (out, out), std=1.2)
    slow = _receptive_upsample_naive(maps, rf, (out, out), std=1.2)
    assert fast.shape == (2, 1, out, out)
    assert torch.allclose(fast, slow, atol=1e-5)
