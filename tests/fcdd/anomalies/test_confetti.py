"""Confetti noise by hand: blob rasterisation, centre sampling, blob sizes and colours, the blur."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from fcdd.anomalies.confetti import (
    Blobs,
    confetti_noise,
    gaussian_blur,
    gaussian_kernel1d,
    paint,
    rasterise,
    sample_blobs,
    sample_centres,
)
from tests.helpers import gen


def _blobs(image, cy, cx, side, angle_deg) -> Blobs:
    return Blobs(
        image=torch.tensor(image),
        cy=torch.tensor(cy),
        cx=torch.tensor(cx),
        side=torch.tensor(side),
        angle=torch.tensor([math.radians(a) for a in angle_deg]),
    )


# ---------------------------------------------------------------- rasterisation by hand


@pytest.mark.parametrize("side", [5, 6, 8, 11])
def test_unrotated_square_covers_side_squared_pixels(side: int) -> None:
    owner = rasterise(_blobs([0], [20], [17], [side], [0.0]), 1, 48, 40)
    covered = (owner[0] >= 0).nonzero()
    assert covered.shape[0] == side * side
    # -side/2 < offset <= side/2: rows 20 - (side-1)//2 .. 20 + side//2.
    assert covered[:, 0].min() == 20 - (side - 1) // 2
    assert covered[:, 0].max() == 20 + side // 2
    assert covered[:, 1].min() == 17 - (side - 1) // 2
    assert covered[:, 1].max() == 17 + side // 2


def test_square_at_the_corner_is_clipped() -> None:
    owner = rasterise(_blobs([0], [0], [0], [6], [0.0]), 1, 10, 10)
    expected = torch.zeros(10, 10, dtype=torch.bool)
    expected[:4, :4] = True  # offsets -2..3 clipped to 0..3
    assert torch.equal(owner[0] >= 0, expected)


def test_rotated_square_is_a_diamond() -> None:
    side = 20
    owner = rasterise(_blobs([0], [32], [32], [side], [45.0]), 1, 64, 64)[0] >= 0
    # Area of a rotated square is side^2 up to pixel rounding on the boundary.
    assert abs(int(owner.sum()) - side * side) <= 2 * side
    # Half diagonal side / sqrt(2) = 14.1: the tips reach offset 14 along the axes, not 15.
    assert owner[32, 32 + 14]
    assert owner[32, 32 + 13]
    assert owner[32 + 13, 32]
    assert owner[32, 32 - 13]
    assert owner[32 - 13, 32]
    assert not owner[32, 32 + 15]
    assert not owner[32 + 15, 32]
    assert not owner[32 + 8, 32 + 8], "the corners of the bounding box are outside a diamond"


def test_overlap_later_blob_wins_and_images_are_separate() -> None:
    blobs = _blobs([0, 0, 1], [5, 6, 5], [5, 6, 5], [4, 4, 4], [0.0, 0.0, 0.0])
    owner = rasterise(blobs, 2, 12, 12)
    assert owner[0, 6, 6] == 1
    assert owner[0, 4, 4] == 0
    assert owner[0, 8, 8] == 1
    assert int((owner[1] == 2).sum()) == 16
    assert not (owner[1] == 0).any()
    colours = torch.tensor([[-10.0], [-20.0], [-30.0]])
    img = paint(owner, colours)
    assert img.shape == (2, 1, 12, 12)
    assert img[0, 0, 6, 6] == -20
    assert img[0, 0, 4, 4] == -10
    assert img[0, 0, 0, 0] == 0
    assert img[1, 0, 5, 5] == -30


def _naive_owner(blobs: Blobs, n: int, h: int, w: int) -> torch.Tensor:
    """Per-blob, per-pixel loop: the obvious reference for the batched rasteriser."""
    owner = torch.full((n, h, w), -1, dtype=torch.long)
    for b in range(len(blobs)):
        a = float(blobs.angle[b])
        half = float(blobs.side[b]) / 2
        for y in range(h):
            for x in range(w):
                dy, dx = y - int(blobs.cy[b]), x - int(blobs.cx[b])
                u = math.cos(a) * dy + math.sin(a) * dx
                v = math.cos(a) * dx - math.sin(a) * dy
                if -half < u <= half and -half < v <= half:
                    owner[int(blobs.image[b]), y, x] = b
    return owner


@pytest.mark.parametrize(("h", "w"), [(20, 20), (64, 56)])  # full-grid and windowed branches
def test_rasterise_matches_naive_loop(h: int, w: int) -> None:
    blobs = sample_blobs(3, h, w, gen(5), p=0.003, side_range=(3, 17), max_rotation_deg=45.0)
    assert len(blobs) >= 3
    got = rasterise(blobs, 3, h, w, 45.0)
    expected = _naive_owner(blobs, 3, h, w)
    # float32 vs float64 trigonometry may flip a pixel lying exactly on an edge.
    assert (got != expected).sum() <= 2


def test_sample_centres_is_conditioned_bernoulli() -> None:
    n, pixels, p = 20000, 100, 0.01
    image, flat = sample_centres(n, 10, 10, p, gen(0))
    counts = torch.bincount(image, minlength=n)
    assert counts.min() >= 1
    # E[K | K >= 1] = N p / (1 - (1-p)^N) = 1.577; "add one centre to empty images" would give 1.366.
    expected = pixels * p / (1 - (1 - p) ** pixels)
    assert abs(counts.float().mean().item() - expected) < 0.03
    assert abs(flat.float().mean().item() - 49.5) < 1.0, "centres are uniform over the image"
    without = torch.bincount(sample_centres(n, 10, 10, p, gen(0), ensure_one=False)[0], minlength=n)
    assert abs((without == 0).float().mean().item() - (1 - p) ** pixels) < 0.02


def test_confetti_blob_sizes_and_colours() -> None:
    blobs = sample_blobs(64, 32, 32, gen(2), p=0.01, side_range=(8, 54), max_rotation_deg=45.0)
    assert blobs.side.min() >= 8
    assert blobs.side.max() <= 54
    assert blobs.angle.abs().max() <= math.radians(45)
    assert len(blobs.side.unique()) >= 40, "sides are spread over 8..54"
    with pytest.raises(ValueError, match="must be in \\(0, 1\\)"):
        sample_centres(1, 4, 4, 0.0, gen(0))


# ---------------------------------------------------------------- blur


def test_gaussian_blur_matches_reflect_conv_and_keeps_constants() -> None:
    g = gaussian_kernel1d(25, 5.0)
    assert abs(g.sum().item() - 1) < 1e-6
    assert g.argmax() == 12
    x = torch.randn(2, 3, 30, 27, generator=gen(0))
    flat = F.pad(x.view(6, 1, 30, 27), (12, 12, 12, 12), mode="reflect")
    ref = F.conv2d(F.conv2d(flat, g.view(1, 1, 25, 1)), g.view(1, 1, 1, 25)).view(2, 3, 30, 27)
    assert torch.allclose(gaussian_blur(x), ref, atol=1e-4)
    const = torch.full((1, 1, 7, 5), -255.0)  # smaller than the kernel: repeated reflection
    assert torch.allclose(gaussian_blur(const), const)


def test_confetti_blurs_a_delta_into_the_kernel() -> None:
    x = torch.zeros(1, 1, 41, 41)
    x[0, 0, 20, 20] = 1.0
    g = gaussian_kernel1d(25, 5.0)
    y = gaussian_blur(x)
    assert torch.allclose(y[0, 0, 8:33, 8:33], torch.outer(g, g), atol=1e-7)


def test_confetti_is_darkening_and_blurred() -> None:
    x = confetti_noise(4, (3, 64, 64), gen(7))
    assert x.max() <= 0
    assert x.min() >= -511
    # Blur (sigma 5) leaves no hard edges: neighbouring pixels differ by far less than 255.
    assert (x[..., 1:, :] - x[..., :-1, :]).abs().max() < 60
