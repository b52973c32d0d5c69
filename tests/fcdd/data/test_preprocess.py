"""LCN, normalisation and the assembled train/test pipelines."""

from __future__ import annotations

import pytest
import torch

from fcdd.data import cifar, fmnist, folder
from fcdd.data.preprocess import (
    Preprocessing,
    Recipe,
    build_preprocessing,
    class_constants,
    lcn,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_lcn_hand_computed() -> None:
    # mean 1; deviations -1, -1, -1, 3; mean absolute deviation 1.5.
    x = torch.tensor([0.0, 0.0, 0.0, 4.0]).view(1, 1, 2, 2)
    assert lcn(x).flatten().tolist() == pytest.approx([-2 / 3, -2 / 3, -2 / 3, 2.0])


def test_lcn_pools_channels_and_is_per_image() -> None:
    # Two channels [0, 2] and [4, 6]: mean 3 over both, deviations -3, -1, 1, 3, MAD 2.
    x = torch.tensor([[[[0.0, 2.0]], [[4.0, 6.0]]], [[[1.0, 1.0]], [[1.0, 3.0]]]])
    out = lcn(x)
    assert out[0].flatten().tolist() == pytest.approx([-1.5, -0.5, 0.5, 1.5])
    # Second image: mean 1.5, deviations -.5, -.5, -.5, 1.5, MAD .75.
    assert out[1].flatten().tolist() == pytest.approx([-2 / 3, -2 / 3, -2 / 3, 2.0])


def test_lcn_constant_image_is_zero() -> None:
    # The float mean of 0.7s is not exactly 0.7; the rounding residue must not be scaled up.
    out = lcn(torch.full((2, 1, 3, 3), 0.7))
    assert torch.allclose(out, torch.zeros(2, 1, 3, 3), atol=1e-6)


def test_mean_std_normalisation_values() -> None:
    pre = Preprocessing("none", (1, 2, 2), shift=(0.5,), scale=(0.25,))
    out = pre.test(torch.tensor([0, 255, 51, 204], dtype=torch.uint8).view(1, 1, 2, 2))
    assert out.dtype == torch.float32
    assert out.flatten().tolist() == pytest.approx([-2.0, 2.0, -1.2, 1.2])


def test_per_channel_normalisation() -> None:
    pre = Preprocessing("none", (3, 1, 1), shift=(0.0, 0.5, 1.0), scale=(1.0, 0.5, 0.25))
    out = pre.test(torch.full((1, 3, 1, 1), 255.0))
    assert out.flatten().tolist() == pytest.approx([1.0, 1.0, 0.0])


def test_fmnist_lcn_min_max() -> None:
    pre = build_preprocessing("lcn", "fmnist", 4, (1, 28, 28), recipes=fmnist.RECIPES)
    c = class_constants("fmnist", 4)
    x = torch.randint(0, 256, (3, 1, 28, 28), generator=gen()).float()
    expected = (lcn(x / 255) - c.lcn_min[0]) / (c.lcn_max[0] - c.lcn_min[0])
    assert torch.allclose(pre.test(x), expected, atol=1e-6)
    # No augmentation: train equals test.
    assert torch.equal(pre.train(x, gen())[0], pre.test(x))


def test_fmnist_none_uses_mean_std() -> None:
    pre = build_preprocessing("none", "fmnist", 1, (1, 28, 28), recipes=fmnist.RECIPES)
    c = class_constants("fmnist", 1)
    assert pre.shift == c.mean
    assert pre.scale == c.std
    assert c.mean[0] == pytest.approx(0.2229, abs=5e-5)


def test_cifar_lcn_constants_are_scalar() -> None:
    pre = build_preprocessing("lcn", "cifar10", 0, (3, 32, 32), recipes=cifar.RECIPES)
    assert pre.shift == (-28.94,)
    assert pre.scale == pytest.approx((13.80 + 28.94,))
    x = torch.rand(2, 3, 32, 32, generator=gen()) * 255
    assert pre.test(x).shape == (2, 3, 32, 32)


@pytest.mark.parametrize(
    ("name", "dataset", "raw"),
    [("lcnaug1", "fmnist", (1, 28, 28)), ("aug1", "fmnist", (1, 28, 28)), ("aug1", "cifar10", (3, 32, 32))],
)
def test_train_shapes_determinism(name: str, dataset: str, raw: tuple[int, int, int]) -> None:
    recipes = {"fmnist": fmnist.RECIPES, "cifar10": cifar.RECIPES}[dataset]
    pre = build_preprocessing(name, dataset, 0, raw, recipes=recipes)
    x = torch.randint(0, 256, (8, *raw), generator=gen()).float()
    a, masks = pre.train(x, gen(1))
    assert a.shape == (8, *raw)
    assert a.dtype == torch.float32
    assert masks is None
    assert torch.equal(a, pre.train(x, gen(1))[0])
    assert not torch.equal(a, pre.train(x, gen(2))[0])
    assert torch.equal(pre.test(x), pre.test(x))
    assert bool(torch.isfinite(a).all())


def test_train_masks_follow_images() -> None:
    # Geometry only (no colour, noise or normalisation), so image and mask must match.
    pre = Preprocessing("geo", (1, 6, 6), (0.0,), (1.0,), Recipe(augment=True, pad=2, hflip=True))
    images = torch.randint(0, 256, (16, 1, 6, 6), generator=gen()).float()
    masks = (images > 128).float()
    out, out_masks = pre.train(images, gen(4), masks)
    assert out_masks is not None
    assert torch.equal(out_masks, (out * 255 > 128).float())


def test_custom_crop_and_center_crop() -> None:
    pre = build_preprocessing(
        "aug1",
        "custom",
        0,
        (3, 35, 35),
        input_size=32,
        mean=(0.5, 0.5, 0.5),
        std=(0.2, 0.2, 0.2),
        recipes=folder.RECIPES,
    )
    assert pre.input_shape == (3, 32, 32)
    x = torch.rand(4, 3, 35, 35, generator=gen()) * 255
    masks = torch.zeros(4, 1, 35, 35)
    out, out_masks = pre.train(x, gen(), masks)
    assert out.shape == (4, 3, 32, 32)
    assert out_masks is not None
    assert out_masks.shape == (4, 1, 32, 32)
    # Test: centre crop (offset round(3 / 2) = 2), then (x/255 - .5) / .2.
    expected = (x[:, :, 2:34, 2:34] / 255 - 0.5) / 0.2
    assert torch.allclose(pre.test(x), expected, atol=1e-5)


def test_no_augment_train_center_crops_masks() -> None:
    pre = build_preprocessing(
        "none", "custom", 0, (1, 10, 10), input_size=8, mean=(0.5,), std=(0.5,), recipes=folder.RECIPES
    )
    masks = torch.arange(100.0).view(1, 1, 10, 10)
    _, out_masks = pre.train(torch.zeros(1, 1, 10, 10), gen(), masks)
    assert out_masks is not None
    assert torch.equal(out_masks, masks[:, :, 1:9, 1:9])


def test_build_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown preprocessing 'lcnaug' .*did you mean 'lcnaug1'"):
        build_preprocessing("lcnaug", "fmnist", 0, (1, 28, 28), recipes=fmnist.RECIPES)
    with pytest.raises(ValueError, match=r"`input_size` must be in \[1, 28\]"):
        build_preprocessing("none", "fmnist", 0, (1, 28, 28), input_size=30, recipes=fmnist.RECIPES)
    with pytest.raises(ValueError, match=r"`normal_class` for fmnist must be in \[0, 10\), got 10"):
        build_preprocessing("none", "fmnist", 10, (1, 28, 28), recipes=fmnist.RECIPES)
    with pytest.raises(ValueError, match="no normalisation constants for dataset 'custom'"):
        build_preprocessing("aug1", "custom", 0, (3, 35, 35), input_size=32, recipes=folder.RECIPES)


def test_preprocessing_validation() -> None:
    with pytest.raises(ValueError, match="`scale` must be > 0"):
        Preprocessing("x", (1, 2, 2), (0.0,), (0.0,))
    with pytest.raises(ValueError, match="`shift` needs 1 or 3 values, got 2"):
        Preprocessing("x", (3, 2, 2), (0.0, 0.0), (1.0,))
