"""Batched augmentations: hand-built images, joint masks, determinism, identities."""

from __future__ import annotations

import colorsys

import pytest
import torch

from fcdd.data.augment import (
    center_crop,
    color_jitter,
    gaussian_noise,
    grayscale,
    hsv_to_rgb,
    random_crop,
    random_hflip,
    rgb_to_hsv,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_grayscale_weights() -> None:
    x = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
    assert grayscale(x).item() == pytest.approx(0.299 + 0.5 * 0.587)
    one = torch.rand(2, 1, 3, 3)
    assert grayscale(one) is one


def test_hsv_known_colours_and_colorsys() -> None:
    colours = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0.5, 0.5, 0.5), (0, 0, 0), (0.2, 0.4, 0.3), (0.9, 0.1, 0.5)]
    x = torch.tensor(colours, dtype=torch.float64).T.reshape(1, 3, 1, len(colours))
    hsv = rgb_to_hsv(x)[0, :, 0].T
    for (r, g, b), got in zip(colours, hsv.tolist(), strict=True):
        assert got == pytest.approx(colorsys.rgb_to_hsv(r, g, b), abs=1e-12)
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-12)


def test_hsv_round_trip_random() -> None:
    x = torch.rand(4, 3, 8, 8, generator=gen())
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3])
def test_jitter_zero_is_identity(channels: int) -> None:
    x = torch.rand(5, channels, 6, 6, generator=gen())
    assert torch.equal(color_jitter(x, 0, 0, 0, 0, gen()), x)


def test_saturation_and_hue_are_noops_for_one_channel() -> None:
    x = torch.rand(5, 1, 6, 6, generator=gen())
    assert torch.equal(color_jitter(x, 0, 0, 0.9, 0.5, gen()), x)


def test_brightness_scales_each_sample_by_one_factor() -> None:
    x = torch.rand(64, 3, 4, 4, generator=gen()) * 0.5 + 0.1  # no clamping for factors <= 1.5
    out = color_jitter(x, 0.5, 0, 0, 0, gen(1))
    ratio = out / x
    per_sample = ratio.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample), atol=1e-5)
    assert float(per_sample.min()) >= 0.5
    assert float(per_sample.max()) <= 1.5
    assert float(per_sample[:, 0].std()) > 0.1  # factors differ between samples


def test_contrast_keeps_grey_mean_and_saturation_keeps_grey_images() -> None:
    x = torch.rand(8, 3, 5, 5, generator=gen()) * 0.2 + 0.4
    out = color_jitter(x, 0, 0.5, 0, 0, gen(1))
    assert torch.allclose(grayscale(out).mean(dim=(1, 2, 3)), grayscale(x).mean(dim=(1, 2, 3)), atol=1e-6)
    grey = torch.rand(8, 1, 5, 5, generator=gen()).expand(8, 3, 5, 5)
    assert torch.allclose(color_jitter(grey, 0, 0, 0.9, 0, gen(1)), grey, atol=1e-6)


def test_hue_keeps_value_and_saturation_and_range() -> None:
    x = torch.rand(16, 3, 5, 5, generator=gen())
    out = color_jitter(x, 0, 0, 0, 0.5, gen(1))
    before, after = rgb_to_hsv(x), rgb_to_hsv(out)
    assert torch.allclose(after[:, 1:], before[:, 1:], atol=1e-5)
    assert not torch.allclose(after[:, 0], before[:, 0], atol=1e-3)


def test_jitter_determinism_and_range() -> None:
    x = torch.rand(16, 3, 6, 6, generator=gen())
    a = color_jitter(x, 0.4, 0.4, 0.4, 0.1, gen(7))
    assert torch.equal(a, color_jitter(x, 0.4, 0.4, 0.4, 0.1, gen(7)))
    assert not torch.equal(a, color_jitter(x, 0.4, 0.4, 0.4, 0.1, gen(8)))
    assert float(a.min()) >= 0
    assert float(a.max()) <= 1


def test_jitter_validation() -> None:
    x = torch.rand(1, 3, 2, 2)
    with pytest.raises(ValueError, match=r"`hue` must be in \[0, 0.5\], got 0.7"):
        color_jitter(x, 0, 0, 0, 0.7, gen())
    with pytest.raises(ValueError, match="`contrast` must be >= 0"):
        color_jitter(x, 0, -1, 0, 0, gen())


def test_random_crop_shows_offset_content() -> None:
    # Each image holds distinct values 1..16, so any window identifies its offset.
    b, pad = 200, 2
    x = (torch.arange(16, dtype=torch.float32) + 1).view(1, 1, 4, 4).repeat(b, 1, 1, 1)
    out, _ = random_crop(x, (4, 4), pad, gen())
    padded = torch.nn.functional.pad(x[:1], (pad,) * 4)[0, 0]
    offsets = set()
    for i in range(b):
        # The top-left 1 (value 1 is pixel (0,0)) or the zero border reveals the offset.
        matches = [
            (top, left)
            for top in range(2 * pad + 1)
            for left in range(2 * pad + 1)
            if torch.equal(out[i, 0], padded[top : top + 4, left : left + 4])
        ]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) == 25  # every offset of the padded 8x8 occurs


def test_random_crop_without_padding_stays_inside() -> None:
    x = torch.arange(36, dtype=torch.float32).view(1, 1, 6, 6).repeat(50, 1, 1, 1)
    out, _ = random_crop(x, (4, 4), 0, gen(3))
    for window in out:
        r, c = divmod(int(window[0, 0, 0]), 6)  # the top-left value encodes the offset
        assert r <= 2
        assert c <= 2
        assert torch.equal(window[0], x[0, 0, r : r + 4, c : c + 4])


def test_crop_and_flip_apply_identically_to_masks() -> None:
    x = torch.rand(32, 3, 10, 10, generator=gen())
    masks = x[:, :1].clone()
    g = gen(5)
    out, out_masks = random_crop(x, (8, 8), 3, g, masks)
    out, out_masks = random_hflip(out, g, out_masks)
    assert out_masks is not None
    assert out_masks.shape == (32, 1, 8, 8)
    assert torch.equal(out_masks, out[:, :1])


def test_hflip() -> None:
    x = torch.rand(200, 1, 3, 3, generator=gen())
    out, _ = random_hflip(x, gen(1))
    flipped = torch.tensor([torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x, strict=True)])
    assert bool((flipped | kept).all())
    assert 60 < int(flipped.sum()) < 140
    same, _ = random_hflip(x, gen(1))
    assert torch.equal(out, same)


def test_crop_validation() -> None:
    with pytest.raises(ValueError, match="larger than the padded image"):
        random_crop(torch.zeros(1, 1, 4, 4), (9, 9), 2, gen())
    with pytest.raises(ValueError, match="`padding` must be >= 0"):
        random_crop(torch.zeros(1, 1, 4, 4), (2, 2), -1, gen())


def test_center_crop() -> None:
    x = torch.arange(25).view(1, 1, 5, 5)
    assert center_crop(x, (3, 3))[0, 0].tolist() == [[6, 7, 8], [11, 12, 13], [16, 17, 18]]
    big = torch.zeros(1, 1, 248, 248)
    big[..., 12, 12] = 1
    assert center_crop(big, (224, 224))[0, 0, 0, 0] == 1  # offset (248 - 224) / 2 = 12
    with pytest.raises(ValueError, match="larger than the image"):
        center_crop(x, (6, 6))


def test_gaussian_noise() -> None:
    x = torch.zeros(64, 1, 32, 32)
    out = gaussian_noise(x, 0.01, gen())
    assert float(out.std()) == pytest.approx(0.01, rel=0.05)
    assert torch.equal(out, gaussian_noise(x, 0.01, gen()))
