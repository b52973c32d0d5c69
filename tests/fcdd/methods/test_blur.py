"""The baselines' heatmap blur: a Gaussian by hand, the kernel size from the receptive field, pictures only."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from fcdd.methods.blur import blur_heatmaps, blur_kernel_size
from fcdd.methods.hsc import hsc_scores_and_gradient_heatmaps
from fcdd.methods.upsample import gaussian_kernel_1d
from fcdd.networks.build import build_network, list_networks
from fcdd.networks.receptive_field import FCDDNet


def test_blur_turns_a_delta_into_the_normalised_gaussian() -> None:
    size, k, sigma = 21, 7, 1.5
    maps = torch.zeros(2, 1, size, size, dtype=torch.float64)
    maps[0, 0, 10, 10] = 1.0
    maps[1, 0, 8, 12] = 3.0
    out = blur_heatmaps(maps, k, sigma)
    g = gaussian_kernel_1d(k, sigma).double()
    kernel = torch.outer(g, g) / g.sum() ** 2
    assert out.shape == maps.shape
    torch.testing.assert_close(out.sum(dim=(1, 2, 3)), torch.tensor([1.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(out[0, 0, 7:14, 7:14], kernel)
    torch.testing.assert_close(out[1, 0, 5:12, 9:16], 3 * kernel)
    assert out[0, 0, 10, 10] == out[0].max()  # peak stays at the delta


def test_blur_keeps_constant_maps_and_smooths_every_channel() -> None:
    const = torch.full((1, 3, 9, 9), 2.5)
    torch.testing.assert_close(blur_heatmaps(const, 5, 2.0), const)  # reflected borders: no dark rim
    tiny = torch.full((1, 1, 3, 3), 4.0)  # too small to reflect a 7-tap kernel: edges replicate
    torch.testing.assert_close(blur_heatmaps(tiny, 7, 2.0), tiny)
    noisy = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert blur_heatmaps(noisy, 5, 2.0).std() < noisy.std()


@pytest.mark.parametrize(("kernel_size", "sigma"), [(4, 1.0), (0, 1.0), (5, 0.0)])
def test_blur_rejects_bad_kernels(kernel_size: int, sigma: float) -> None:
    with pytest.raises(ValueError, match="kernel_size|std"):
        blur_heatmaps(torch.zeros(1, 1, 8, 8), kernel_size, sigma)


def test_blur_kernel_size_is_the_odd_receptive_field() -> None:
    # Extents from the method reference §3.1; even ones lose a pixel as in the original.
    assert blur_kernel_size("FCDD_CNN28_W") == 15  # r 16
    assert blur_kernel_size("FCDD_CNN32_S") == 17  # r 18
    assert blur_kernel_size("FCDD_CNN32_LW3K") == 21  # r 22
    assert blur_kernel_size("FCDD_CNN224") == 59  # r 59, already odd
    assert blur_kernel_size("FCDD_CNN224_VGG_F") == 61  # r 62
    assert blur_kernel_size("CNN32") == 17  # a baseline name stands for its FCDD counterpart
    assert blur_kernel_size("AE224_VGG_NOPT") == 61
    for name in list_networks(FCDDNet):
        with torch.device("meta"):  # only the receptive field is needed, not the weights
            extent = build_network(name, pretrained=False).receptive_field.extent
        assert blur_kernel_size(name) % 2 == 1 and extent - 1 <= blur_kernel_size(name) <= extent


def test_blur_kernel_size_unknown_name() -> None:
    with pytest.raises(ValueError, match="did you mean 'FCDD_CNN28_W'"):
        blur_kernel_size("FCDD_CNN28W")


def test_blurred_gradient_heatmaps_end_to_end() -> None:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = build_network("CNN28").eval()
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    raw: Tensor = hsc_scores_and_gradient_heatmaps(net, x)[1]
    blurred = blur_heatmaps(raw, blur_kernel_size(net.fcdd_counterpart), 1.2)
    assert blurred.shape == raw.shape and torch.isfinite(blurred).all()
    assert blurred.std() < raw.std()


@pytest.mark.parametrize("name", ["CNN28_W", "AE28"])
def test_blur_is_visual_only_as_in_the_original(name: str) -> None:
    from fcdd.methods.ae import AEScorer
    from fcdd.methods.hsc import HSCScorer

    net = build_network(name, pretrained=False).eval()
    inputs = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    cls = HSCScorer if name.startswith("CNN") else AEScorer
    plain, blurred = cls(0, 1.2), cls(15, 1.2)
    (s0, m0), (s1, m1) = plain.score(net, inputs), blurred.score(net, inputs)
    assert torch.equal(s0, s1) and torch.equal(m0, m1)  # scores and the maps the pixel metrics see
    assert torch.equal(plain.upsample(net, m0, (28, 28)), blurred.upsample(net, m1, (28, 28)))
    shown_plain, shown_blurred = plain.picture(net, m0, (28, 28)), blurred.picture(net, m1, (28, 28))
    assert torch.equal(shown_plain, m0) and not torch.allclose(shown_blurred, m0)  # only the pictures blur
