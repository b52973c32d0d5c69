"""Synthetic anomaly sources ("noise modes", FCDD method notes §5.2) and their registry.

Every source has the :data:`AnomalySource` signature: ``(n, (C, H, W), generator)`` →
float32 ``(n, C, H, W)`` on ``generator.device``, on the 0..255 scale. Values may leave
[0, 255] (gaussian, mixed_blob, confetti): the supervisor clamps where the method does.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import torch
from torch import Tensor

from fcdd.anomalies.confetti import confetti_noise, rasterise, sample_blobs

AnomalySource = Callable[[int, tuple[int, int, int], torch.Generator], Tensor]

# Outlier-exposure sources are built from data, not drawn from a formula.
_OE_HINTS = {
    "cifar100": "load_cifar100_pool",
    "folder": "load_folder_pool",
    "imagenet": "load_folder_pool",
    "imagenet22k": "load_folder_pool",
}


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


NOISE_MODES: dict[str, AnomalySource] = {
    "gaussian": gaussian,
    "uniform": uniform,
    "blob": blob,
    "mixed_blob": mixed_blob,
    "solid": solid,
    "confetti": confetti,
}

__all__ = ["NOISE_MODES", "AnomalySource", "get_noise_mode"]


def get_noise_mode(name: str) -> AnomalySource:
    """Look up a synthetic noise mode by name; unknown names raise ``ValueError`` with suggestions."""
    try:
        return NOISE_MODES[name]
    except KeyError:
        pass
    if name in _OE_HINTS:
        raise ValueError(
            f"noise mode {name!r} is outlier exposure, not synthetic noise; "
            f"build it with fcdd.anomalies.{_OE_HINTS[name]}(...)"
        )
    known = sorted(NOISE_MODES)
    close = difflib.get_close_matches(str(name), known)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise ValueError(f"unknown noise mode {name!r}; choose one of {known}{hint}")
