"""Black-centre recipes (aug1_blackcenter, _inverted) and the lcn / none recipes of fmnist and cifar10."""

from __future__ import annotations

import pytest
import torch

from fcdd.data import cifar, fmnist
from fcdd.data.augment import black_center, black_center_bounds
from fcdd.data.preprocess import Preprocessing, Recipe, build_preprocessing, lcn
from tests.helpers import gen


def test_bounds_by_hand() -> None:
    # Margin floor(0.2 * side): 6 of 32 (centre rows 6..25), 5 of 28 (centre rows 5..22).
    assert black_center_bounds(32, 32, 0.6) == (6, 26, 6, 26)
    assert black_center_bounds(28, 28, 0.6) == (5, 23, 5, 23)
    assert black_center_bounds(28, 32, 0.6) == (5, 23, 6, 26)
    assert black_center_bounds(10, 10, 1.0) == (0, 10, 0, 10)
    with pytest.raises(ValueError, match=r"`fraction` must be in \(0, 1\], got 1.5"):
        black_center_bounds(8, 8, 1.5)


@pytest.mark.parametrize("inverted", [False, True])
def test_black_center_zeroes_exactly_the_window(inverted: bool) -> None:
    x = torch.rand(2, 3, 32, 32, generator=gen()) + 0.1  # no zeros to start with
    out = black_center(x, 0.6, inverted)
    centre = torch.zeros(32, 32, dtype=torch.bool)
    centre[6:26, 6:26] = True
    zeroed = centre if not inverted else ~centre
    assert (out[:, :, zeroed] == 0).all()
    assert torch.equal(out[:, :, ~zeroed], x[:, :, ~zeroed])
    assert (x > 0).all(), "the input is not modified in place"


@pytest.mark.parametrize(("module", "shape"), [(cifar, (3, 32, 32)), (fmnist, (1, 28, 28))])
@pytest.mark.parametrize("inverted", [False, True])
def test_recipes_blacken_in_training_only(module: object, shape: tuple[int, int, int], inverted: bool) -> None:
    name = "aug1_blackcenter_inverted" if inverted else "aug1_blackcenter"
    recipes = module.RECIPES  # type: ignore[attr-defined]
    aug1 = recipes["aug1"]
    assert recipes[name] == Recipe(
        augment=True,
        pad=aug1.pad,
        hflip=True,
        jitter=aug1.jitter,
        noise=aug1.noise,
        black_center=0.6,
        black_center_inverted=inverted,
    ), "as aug1 plus the black centre"
    dataset = module.NAME  # type: ignore[attr-defined]
    pre = build_preprocessing(name, dataset, 0, shape, recipes=recipes)
    plain = build_preprocessing("aug1", dataset, 0, shape, recipes=recipes)
    images = torch.randint(20, 256, (4, *shape), generator=gen(0)).float()
    x, _ = pre.train(images, gen(1))
    reference, _ = plain.train(images, gen(1))  # black_center draws nothing: same random stream
    # Zero before normalisation: blackened pixels land exactly on -mean/std of their channel.
    black = [-shift / scale for shift, scale in zip(pre.shift, pre.scale, strict=True)]
    top, bottom, left, right = black_center_bounds(shape[1], shape[2], 0.6)
    centre = torch.zeros(shape[1:], dtype=torch.bool)
    centre[top:bottom, left:right] = True
    zeroed = ~centre if inverted else centre
    for c, level in enumerate(black):
        assert torch.allclose(x[:, c][:, zeroed], torch.tensor(level), atol=1e-6), "the window is black"
        assert (reference[:, c][:, zeroed] - level).abs().amax() > 0.5, "... and was not before"
    assert torch.equal(x[:, :, ~zeroed], reference[:, :, ~zeroed]), "everything else is aug1's output"
    # Test pipeline: nothing is blackened, identical to aug1's test pipeline.
    test = pre.test(images)
    assert torch.equal(test, build_preprocessing("aug1", dataset, 0, shape, recipes=recipes).test(images))
    for c, level in enumerate(black):
        assert (test[:, c] - level).abs().min() > 0.1  # every pixel >= 20 grey levels


def test_recipe_round_trip_keeps_black_center() -> None:
    pre = build_preprocessing("aug1_blackcenter_inverted", "cifar10", 3, (3, 32, 32), recipes=cifar.RECIPES)
    assert Preprocessing.from_dict(pre.to_dict()) == pre


@pytest.mark.parametrize(("module", "shape"), [(cifar, (3, 32, 32)), (fmnist, (1, 28, 28))])
def test_lcn_and_none_recipes(module: object, shape: tuple[int, int, int]) -> None:
    recipes = module.RECIPES  # type: ignore[attr-defined]
    dataset = module.NAME  # type: ignore[attr-defined]
    assert recipes["lcn"] == Recipe(lcn=True)
    assert recipes["none"] == Recipe()
    images = torch.randint(0, 256, (5, *shape), generator=gen(2)).float()
    # none: per-class mean/std only, train == test (no randomness).
    none = build_preprocessing("none", dataset, 1, shape, recipes=recipes)
    expected = (images / 255 - torch.tensor(none.shift).view(1, -1, 1, 1)) / torch.tensor(none.scale).view(1, -1, 1, 1)
    assert torch.allclose(none.test(images), expected, atol=1e-6)
    assert torch.equal(none.train(images, gen(3))[0], none.test(images))
    # lcn: LCN then the per-class LCN min-max.
    pre = build_preprocessing("lcn", dataset, 1, shape, recipes=recipes)
    low, high = pre.shift[0], pre.shift[0] + pre.scale[0]
    assert low < 0 < high
    assert torch.allclose(pre.test(images), (lcn(images / 255) - low) / (high - low), atol=1e-6)
    assert torch.equal(pre.train(images, gen(3))[0], pre.test(images))
