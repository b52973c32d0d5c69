"""The noise-mode contract over the whole registry, the reference's values, and every blob mode's layers:
their probabilities, sizes and rotations (reference §5.2, §5.3)."""

from __future__ import annotations

import math

import pytest
import torch

import fcdd.anomalies.confetti as confetti_module
import fcdd.anomalies.noise as noise_module
from fcdd import registry
from fcdd.anomalies.confetti import sample_blobs
from fcdd.anomalies.noise import get_noise_mode
from fcdd.anomalies.registry import SYNTHETIC_NOISE
from tests.helpers import gen

NOISE_MODES = {name: registry.load(entry) for name, entry in SYNTHETIC_NOISE.items()}

SHAPES = [(1, 28, 28), (3, 32, 32)]


# ---------------------------------------------------------------- registry-wide contract


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(NOISE_MODES))
def test_noise_mode_contract(name: str, shape: tuple[int, int, int]) -> None:
    source = NOISE_MODES[name]
    x = source(16, shape, gen(0))
    assert x.shape == (16, *shape)
    assert x.dtype == torch.float32
    assert x.device == torch.device("cpu")
    assert torch.isfinite(x).all()
    assert torch.equal(x, source(16, shape, gen(0))), "same seed must give the same noise"
    assert not torch.equal(x, source(16, shape, gen(1))), "different seeds must give different noise"
    assert source(0, shape, gen(0)).shape == (0, *shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_noise_value_ranges(shape: tuple[int, int, int]) -> None:
    n = 32
    g = gen(3)
    gauss = NOISE_MODES["gaussian"](n, shape, g)
    assert abs(gauss.std().item() - 64.0) < 4.0
    assert abs(gauss.mean().item()) < 4.0

    uni = NOISE_MODES["uniform"](n, shape, g)
    assert uni.min() >= 0
    assert uni.max() < 255
    assert abs(uni.mean().item() - 127.5) < 5

    blob = NOISE_MODES["blob"](n, shape, g)
    assert set(blob.unique().tolist()) <= {0.0, 255.0}
    assert (blob == blob[:, :1]).all(), "blob squares are white on every channel"
    assert (blob.flatten(1).amax(1) == 255).all(), "every image has at least one blob"

    mixed = NOISE_MODES["mixed_blob"](n, shape, g)
    assert mixed.min() >= 0
    assert mixed.max() <= 510
    assert torch.equal(mixed, mixed.round())
    assert (mixed.flatten(1).amax(1) >= 255).all(), "the white layer guarantees a blob per image"

    solid = NOISE_MODES["solid"](n, shape, g)
    assert solid.min() >= 0
    assert solid.max() <= 255
    assert torch.equal(solid, solid.round())
    assert (solid == solid[:, :, :1, :1]).all(), "one colour per image"

    conf = NOISE_MODES["confetti"](n, shape, g)
    assert conf.max() <= 0
    assert conf.min() >= -511
    # The grey layer (-255) guarantees a blob; blurred, even a corner blob stays well below -10.
    assert (conf.flatten(1).amin(1) < -10).all(), "every confetti image has at least one blob"


def test_get_noise_mode() -> None:
    assert get_noise_mode("confetti") is NOISE_MODES["confetti"]
    with pytest.raises(ValueError, match=r"unknown synthetic noise mode 'confeti'.*did you mean 'confetti'"):
        get_noise_mode("confeti")
    with pytest.raises(ValueError, match=r"outlier exposure, not synthetic noise.*fcdd\.anomalies\.oe_modes"):
        get_noise_mode("cifar100")
    with pytest.raises(ValueError, match=r"must be \(C, H, W\)"):
        NOISE_MODES["gaussian"](2, (28, 28), gen(0))  # type: ignore[arg-type]


# --- noise modes: the reference's probabilities, sizes and values (§5.2, §5.3) ------------------

# (probability per pixel, side range, max rotation in degrees) of every layer each mode draws.
LAYERS = {
    "blob": [(0.002, (6, 6), 0.0)],
    "mixed_blob": [(1e-5, (34, 34), 0.0), (1e-5, (34, 34), 0.0)],
    "confetti": [(1.8e-5, (8, 54), 45.0), (1.2e-5, (8, 54), 45.0)],
}


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_each_mode_draws_its_layers_with_the_reference_probabilities_and_sizes(mode, monkeypatch):
    calls = []

    def spy(n, h, w, generator, *, p, side_range, max_rotation_deg=0.0, ensure_one=True):
        calls.append((p, tuple(side_range), float(max_rotation_deg)))
        return sample_blobs(n, h, w, generator, p=p, side_range=side_range, max_rotation_deg=max_rotation_deg,
                            ensure_one=ensure_one)  # fmt: skip

    monkeypatch.setattr(noise_module, "sample_blobs", spy)
    monkeypatch.setattr(confetti_module, "sample_blobs", spy)
    noise_module.get_noise_mode(mode)(2, (3, 64, 64), gen(0))
    assert calls == LAYERS[mode]


def test_blob_centres_follow_their_probability_with_at_least_one_per_image():
    # Bernoulli(p) per pixel conditioned on one or more: E[count] = λ / (1 − e^−λ) with λ = p·H·W.
    n, h, w, p = 4000, 28, 28, 0.002
    blobs = sample_blobs(n, h, w, gen(5), p=p, side_range=(6, 6))
    lam = p * h * w
    expected = lam / -math.expm1(-lam)
    assert len(blobs) / n == pytest.approx(expected, rel=0.03)
    assert torch.bincount(blobs.image, minlength=n).min() >= 1 and (blobs.side == 6).all()


def test_gaussian_uniform_and_solid_values():
    g = noise_module.get_noise_mode("gaussian")(64, (1, 32, 32), gen(0))
    assert g.std().item() == pytest.approx(64.0, rel=0.02) and abs(g.mean().item()) < 1.0
    u = noise_module.get_noise_mode("uniform")(64, (1, 32, 32), gen(0))
    assert 0 <= u.min() and u.max() < 255 and u.mean().item() == pytest.approx(127.5, rel=0.02)
    s = noise_module.get_noise_mode("solid")(64, (3, 8, 8), gen(0))
    flat = s.flatten(2)
    assert (flat == flat[:, :, :1]).all() and (s == s.round()).all() and s.max() <= 255  # one colour per image
