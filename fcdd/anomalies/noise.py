"""Synthetic anomaly sources ("noise modes", FCDD method notes §5.2); the registry is
:data:`fcdd.anomalies.registry.SYNTHETIC_NOISE`.

Every source has the :data:`AnomalySource` signature: ``(n, (C, H, W), generator)`` →
float32 ``(n, C, H, W)`` on ``generator.device``, on the 0..255 scale. Values may leave
[0, 255] (gaussian, mixed_blob, confetti): the supervisor clamps where the method does.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from fcdd import registry
from fcdd.anomalies.confetti import confetti_noise, rasterise, sample_blobs
from fcdd.anomalies.registry import OE_SOURCES, SYNTHETIC_NOISE

AnomalySource = Callable[[int, tuple[int, int, int], torch.Generator], Tensor]


def _check(n: int, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    if n < 0:
        raise ValueError(f"number of anomalies `n` must be >= 0, got n={n}")
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"`shape` must be (C, H, W) with positive sizes, got shape={tuple(shape)}")
    c, h, w = (int(s) for s in shape)
    return c, h, w


def gaussian(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """White Gaussian noise N(0, 1) * 64, unclamped."""
    c, h, w = _check(n, shape)
    return torch.randn((n, c, h, w), generator=generator, device=generator.device) * 64.0


def uniform(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """Uniform noise U[0, 1) * 255 per pixel and channel."""
    c, h, w = _check(n, shape)
    return torch.rand((n, c, h, w), generator=generator, device=generator.device) * 255.0


def blob(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """White 6×6 squares (255 on every channel), centres Bernoulli(0.002) per pixel, ≥ 1 per image.

    No rotation and no blur, as in the original's ``blob`` mode.
    """
    c, h, w = _check(n, shape)
    blobs = sample_blobs(n, h, w, generator, p=0.002, side_range=(6, 6))
    owner = rasterise(blobs, n, h, w, max_rotation_deg=0.0)
    return (owner >= 0).unsqueeze(1).expand(n, c, h, w).float() * 255.0


def mixed_blob(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """Two layers of 34×34 squares (Bernoulli 1e-5, ≥ 1 per image each), summed.

    One layer is white (255); the other gets an independent random integer in 0..255 per
    pixel and channel. Overlaps sum to at most 510.
    """
    c, h, w = _check(n, shape)
    dev = generator.device
    coloured = sample_blobs(n, h, w, generator, p=1e-5, side_range=(34, 34))
    covered = (rasterise(coloured, n, h, w, max_rotation_deg=0.0) >= 0).unsqueeze(1)
    speckle = torch.randint(0, 256, (n, c, h, w), generator=generator, device=dev).float()
    layer_rgb = speckle * covered
    white = sample_blobs(n, h, w, generator, p=1e-5, side_range=(34, 34))
    layer_white = (rasterise(white, n, h, w, max_rotation_deg=0.0) >= 0).unsqueeze(1).expand(n, c, h, w) * 255.0
    return layer_rgb + layer_white


def solid(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """One random colour per image, each channel an integer in 0..255."""
    c, h, w = _check(n, shape)
    colour = torch.randint(0, 256, (n, c, 1, 1), generator=generator, device=generator.device)
    return colour.float().expand(n, c, h, w).contiguous()


def confetti(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """Confetti noise (§5.3), see :func:`fcdd.anomalies.confetti.confetti_noise`."""
    return confetti_noise(n, _check(n, shape), generator)


__all__ = ["AnomalySource", "get_noise_mode"]


def get_noise_mode(name: str) -> AnomalySource:
    """The synthetic noise function registered as ``name``; unknown names raise ``ValueError`` with suggestions."""
    if name in OE_SOURCES:
        raise ValueError(
            f"noise mode {name!r} is outlier exposure, not synthetic noise; build it with "
            "fcdd.anomalies.oe_modes (registry: fcdd.anomalies.registry.OE_SOURCES) or fcdd.anomalies.outlier_exposure"
        )
    source: AnomalySource = registry.lookup_function(SYNTHETIC_NOISE, name, "synthetic noise mode")
    return source
