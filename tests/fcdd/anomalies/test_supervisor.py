"""Online supervisor: mixing ratio, replacement, malformation (inversion rule), GT maps, errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fcdd import registry
from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.anomalies.registry import SUPERVISE_MODES, SYNTHETIC_NOISE
from fcdd.anomalies.supervisor import OnlineSupervisor, SupervisedBatch, malform
from tests.helpers import gen

NOISE_MODES = {name: registry.load(entry) for name, entry in SYNTHETIC_NOISE.items()}


class RecordingSource:
    """Anomaly source that remembers what it returned (values up to 400 to exercise clamping)."""

    def __init__(self) -> None:
        self.last: torch.Tensor | None = None

    def __call__(self, n: int, shape: tuple[int, int, int], generator: torch.Generator) -> torch.Tensor:
        self.last = torch.rand((n, *shape), generator=generator) * 400.0
        return self.last


def _batch(b: int = 64, shape: tuple[int, int, int] = (3, 4, 5)) -> torch.Tensor:
    return torch.randint(0, 256, (b, *shape), generator=gen(99)).float()


def test_unsupervised_passes_through() -> None:
    x = _batch()
    out = OnlineSupervisor("unsupervised", None)(x, gen(0))
    assert isinstance(out, SupervisedBatch)
    assert torch.equal(out.images, x)
    assert out.gt_maps is None
    assert out.labels.dtype == torch.int64
    assert not out.labels.any()
    with_maps = OnlineSupervisor("unsupervised", None, with_gt_maps=True)(x, gen(0))
    assert with_maps.gt_maps is not None
    assert with_maps.gt_maps.shape == (64, 1, 4, 5)
    assert not with_maps.gt_maps.any()
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.labels = out.labels  # type: ignore[misc]


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_label_fraction_is_about_p(p: float) -> None:
    x = torch.zeros(8000, 1, 2, 2)
    labels = OnlineSupervisor("noise", NOISE_MODES["uniform"], p=p)(x, gen(1)).labels
    assert abs(labels.float().mean().item() - p) < 0.02  # 4+ standard errors
    never = OnlineSupervisor("noise", NOISE_MODES["uniform"], p=0.0)(x[:100], gen(1)).labels
    always = OnlineSupervisor("noise", NOISE_MODES["uniform"], p=1.0)(x[:100], gen(1)).labels
    assert not never.any()
    assert always.all()


def test_noise_replaces_samples_with_clamped_source_images() -> None:
    x = _batch()
    source = RecordingSource()
    out = OnlineSupervisor("noise", source, with_gt_maps=True)(x, gen(2))
    chosen = out.labels.bool()
    assert 0 < int(chosen.sum()) < 64
    assert source.last is not None
    assert source.last.shape[0] == int(chosen.sum())
    assert torch.equal(out.images[chosen], source.last.clamp(0, 255))
    assert torch.equal(out.images[~chosen], x[~chosen])
    assert out.images.dtype == torch.float32
    assert out.images.max() <= 255
    assert out.gt_maps is not None
    assert out.gt_maps.dtype == torch.float32
    assert (out.gt_maps[chosen] == 1).all()
    assert (out.gt_maps[~chosen] == 0).all()
    assert torch.equal(x, _batch()), "the input batch must not be modified in place"


def test_same_seed_same_batch_different_seed_different_batch() -> None:
    sup = OnlineSupervisor("noise", NOISE_MODES["confetti"])
    x = _batch(32, (3, 16, 16))
    a, b, c = sup(x, gen(5)), sup(x, gen(5)), sup(x, gen(6))
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)


def test_malform_inversion_rule_by_hand() -> None:
    x = torch.zeros(3, 1, 10, 10)
    x[1] = 100.0
    noise = torch.full((3, 1, 10, 10), -50.0)
    noise[0, 0, 0, 0] = 2.0  # black image: +noise changes 2/100 = 0.02 < 0.025 grey levels
    noise[2] = 0.0
    out = malform(x, noise)
    # Sample 0: -noise changes 49.5 on average (> 0.02), so the noise is negated.
    expected0 = torch.full((1, 10, 10), 50.0)
    expected0[0, 0, 0] = 0.0
    assert torch.equal(out[0], expected0)
    assert torch.equal(out[1], torch.full((1, 10, 10), 50.0)), "a visible change is kept as is"
    assert torch.equal(out[2], x[2]), "no change either way: nothing to invert"
    # A change of 0.03 is above the threshold: not inverted even though -noise would change more.
    noise3 = torch.full((1, 1, 10, 10), -50.0)
    noise3[0, 0, 0, 0] = 3.0
    assert malform(torch.zeros(1, 1, 10, 10), noise3)[0, 0, 0, 0] == 3.0


def test_malformed_normal_gt_marks_changed_pixels_in_any_channel() -> None:
    x = torch.full((4, 3, 6, 6), 100.0)

    def one_pixel(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> torch.Tensor:
        noise = torch.zeros((n, *shape))
        noise[:, 1, 2, 3] = 30.0  # only the green channel of one pixel
        noise[:, 0, 4, 4] = 500.0  # clamped to 255, still a change
        return noise

    out = OnlineSupervisor("malformed_normal_gt", one_pixel, p=1.0)(x, gen(0))
    assert out.labels.all()
    assert out.gt_maps is not None
    expected = torch.zeros(4, 1, 6, 6)
    expected[:, 0, 2, 3] = 1.0
    expected[:, 0, 4, 4] = 1.0
    assert torch.equal(out.gt_maps, expected)
    assert (out.images[:, 1, 2, 3] == 130).all()
    assert (out.images[:, 0, 4, 4] == 255).all()
    plain = OnlineSupervisor("malformed_normal", one_pixel, p=1.0)(x, gen(0))
    assert plain.gt_maps is None
    assert torch.equal(plain.images, out.images)
    ones = OnlineSupervisor("malformed_normal", one_pixel, p=1.0, with_gt_maps=True)(x, gen(0))
    assert ones.gt_maps is not None
    assert (ones.gt_maps == 1).all()


def test_malformed_confetti_on_black_images_is_inverted_to_brightening() -> None:
    x = torch.zeros(8, 3, 32, 32)
    out = OnlineSupervisor("malformed_normal", NOISE_MODES["confetti"], p=1.0)(x, gen(4))
    # Darkening a black image changes nothing, so every sample gets the negated (brightening) noise.
    assert (out.images.flatten(1).amax(1) > 10).all()
    assert out.images.min() >= 0
    assert out.images.max() <= 255


def test_works_with_an_outlier_pool() -> None:
    pool = OutlierPool(torch.arange(4, dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 1, 3, 3).contiguous() * 60)
    out = OnlineSupervisor("noise", pool, p=1.0)(torch.zeros(16, 1, 3, 3), gen(0))
    assert set(out.images.unique().tolist()) <= {0.0, 60.0, 120.0, 180.0}


def test_errors() -> None:
    assert tuple(SUPERVISE_MODES) == ("unsupervised", "noise", "malformed_normal", "malformed_normal_gt", "other")
    with pytest.raises(ValueError, match="`other` needs real labelled anomalies|'other' needs real labelled anomalies"):
        OnlineSupervisor("other", NOISE_MODES["confetti"])
    with pytest.raises(ValueError, match=r"unknown supervise mode 'nosie'.*did you mean 'noise'"):
        OnlineSupervisor("nosie", NOISE_MODES["confetti"])
    with pytest.raises(ValueError, match="needs an anomaly source"):
        OnlineSupervisor("malformed_normal", None)
    with pytest.raises(ValueError, match=r"`p` must be in \[0, 1\], got p=1.5"):
        OnlineSupervisor("noise", NOISE_MODES["confetti"], p=1.5)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        OnlineSupervisor("noise", NOISE_MODES["confetti"])(torch.zeros(3, 4, 4), gen(0))
