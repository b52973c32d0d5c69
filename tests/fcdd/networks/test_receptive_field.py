"""Receptive-field arithmetic, covering cells and the layer builder, against hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fcdd.networks.receptive_field import LayerBuilder, ReceptiveField, covering_cells


def test_identity_before_any_layer() -> None:
    assert ReceptiveField.of_input((5, 7)) == ReceptiveField((5, 7), extent=1, jump=1, start=0.0)


def test_conv3_pad1_then_pool2() -> None:
    # conv k3 p1: r = 1 + 2·1 = 3, s = 0 + (1 - 1)·1 = 0, size 8.
    # pool k2 s2: r = 3 + 1·1 = 4, j = 2, s = 0 + (0.5 - 0)·1 = 0.5, size floor(6/2) + 1 = 4.
    rf = ReceptiveField.of_input((8, 8)).after(3, 1, 1).after(2, 2, 0)
    assert rf == ReceptiveField((4, 4), extent=4, jump=2, start=0.5)


def test_unpadded_and_strided_layers() -> None:
    # conv k5 p0 on 10×12: size (6, 8), r 5, s 2 (first full patch is centred on pixel 2).
    rf = ReceptiveField.of_input((10, 12)).after(5)
    assert rf == ReceptiveField((6, 8), extent=5, jump=1, start=2.0)
    # conv k3 s2 p1 on 7: size floor((7+2-3)/2)+1 = 4, j 2, r 3, s 0;
    # then conv k3 p0: size 2, r = 3 + 2·2 = 7, s = 0 + 1·2 = 2.
    rf = ReceptiveField.of_input((7, 7)).after(3, 2, 1).after(3)
    assert rf == ReceptiveField((2, 2), extent=7, jump=2, start=2.0)


@pytest.mark.parametrize(("kernel_size", "stride", "padding"), [(0, 1, 0), (3, 0, 1), (3, 1, -1), (9, 1, 0)])
def test_invalid_layers_raise(kernel_size: int, stride: int, padding: int) -> None:
    with pytest.raises(ValueError, match="kernel_size"):
        ReceptiveField.of_input((8, 8)).after(kernel_size, stride, padding)


def test_empty_input_raises() -> None:
    with pytest.raises(ValueError, match="input size"):
        ReceptiveField.of_input((0, 4))


def test_covering_cells_hand_cases() -> None:
    # FCDD_CNN28 geometry: r 16, j 4, s 1.5 → cell i sees pixels ceil(4i - 6) … floor(4i + 9).
    rf = ReceptiveField((7, 7), extent=16, jump=4, start=1.5)
    assert covering_cells(rf, 0, 0) == (range(0, 2), range(0, 2))  # cells 0, 1 (0 ≤ 4i + 9)
    assert covering_cells(rf, 14, 27) == (range(2, 6), range(5, 7))  # 27 ≥ 4·5 - 6, clipped at 6
    # r 4, j 2, s 0.5: cell i sees pixels 2i - 1 … 2i + 2, so pixel 2 → cells 0, 1; pixel 3 → 1, 2.
    rf = ReceptiveField((4, 4), extent=4, jump=2, start=0.5)
    assert covering_cells(rf, 2, 3) == (range(0, 2), range(1, 3))


@pytest.mark.parametrize(
    "rf",
    [
        ReceptiveField((7, 7), extent=16, jump=4, start=1.5),
        ReceptiveField((28, 28), extent=59, jump=8, start=0.0),
        ReceptiveField((28, 28), extent=62, jump=8, start=3.5),
        ReceptiveField((5, 9), extent=3, jump=1, start=1.0),
    ],
)
def test_covering_cells_matches_per_cell_patches(rf: ReceptiveField) -> None:
    # Brute force the other way round: list each cell's patch and invert.
    h, w = rf.output_size
    half = (rf.extent - 1) / 2
    patch = [
        range(math.ceil(rf.start + i * rf.jump - half), math.floor(rf.start + i * rf.jump + half) + 1)
        for i in range(max(h, w))
    ]
    for pixel in range(-2, max(h, w) * rf.jump + 3):
        rows, cols = covering_cells(rf, pixel, pixel)
        assert list(rows) == [i for i in range(h) if pixel in patch[i]]
        assert list(cols) == [i for i in range(w) if pixel in patch[i]]


def test_builder_tracks_width_and_field() -> None:
    b = LayerBuilder((3, 16, 16))
    conv = b.conv(8, 3, padding=1, bias=False)
    assert (conv.in_channels, conv.out_channels, conv.bias) == (3, 8, None)
    layers = b.conv_bn_act(4, 5, nn.LeakyReLU(), padding=2, bias=False, bn_eps=1e-4)
    assert layers[0].in_channels == 8 and layers[1].num_features == 4
    assert layers[1].eps == 1e-4 and not layers[1].affine
    pool = b.max_pool(3, 2, 1)
    assert (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)
    expected = ReceptiveField.of_input((16, 16)).after(3, 1, 1).after(5, 1, 2).after(3, 2, 1)
    assert b.receptive_field == expected and b.channels == 4


def test_builder_field_matches_gradient_support() -> None:
    # Linear stack (no pools, so every path is live): the input pixels with a non-zero gradient
    # for output cell (i, i) are exactly its patch, clipped to the image.
    b = LayerBuilder((1, 13, 13))
    net = nn.Sequential(b.conv(1, 3, stride=2, padding=1), b.conv(1, 5, padding=2), b.conv(1, 2, stride=2))
    for m in net:
        nn.init.ones_(m.weight)
    rf = b.receptive_field
    x = torch.zeros(1, 1, 13, 13, requires_grad=True)
    out = net(x)
    assert tuple(out.shape[-2:]) == rf.output_size
    for i in range(rf.output_size[0]):
        (grad,) = torch.autograd.grad(out[0, 0, i, i], x, retain_graph=True)
        support = grad[0, 0].ne(0).nonzero()
        lo = max(math.ceil(rf.start + i * rf.jump - (rf.extent - 1) / 2), 0)
        hi = min(math.floor(rf.start + i * rf.jump + (rf.extent - 1) / 2), 12)
        assert support[:, 0].min() == lo and support[:, 0].max() == hi
        assert support[:, 1].min() == lo and support[:, 1].max() == hi
