"""Every registered FCDD network through build_network: shapes, gradients, declared vs empirical receptive field,
bias flags, the listing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from fcdd.networks.build import build_network, describe_networks, list_networks
from fcdd.networks.receptive_field import FCDDNet, ReceptiveField, covering_cells
from tests.helpers import build, randn

# name: (input shape, output size, extent r, jump j, start s), from the method reference §3.1.
EXPECTED = {
    "FCDD_CNN28": ((1, 28, 28), (7, 7), 16, 4, 1.5),
    "FCDD_CNN28_W": ((1, 28, 28), (7, 7), 16, 4, 1.5),
    "FCDD_CNN32": ((3, 32, 32), (8, 8), 32, 4, 1.5),
    "FCDD_CNN32_S": ((3, 32, 32), (8, 8), 18, 4, 1.5),
    "FCDD_CNN32_LW3K": ((3, 32, 32), (8, 8), 22, 4, 1.5),
    "FCDD_CNN224": ((3, 224, 224), (28, 28), 59, 8, 0.0),
    "FCDD_CNN224_W": ((3, 224, 224), (28, 28), 59, 8, 0.0),
    "FCDD_CNN224_VGG": ((3, 224, 224), (28, 28), 62, 8, 3.5),
    "FCDD_CNN224_VGG_NOPT": ((3, 224, 224), (28, 28), 62, 8, 3.5),
    "FCDD_CNN224_VGG_F": ((3, 224, 224), (28, 28), 62, 8, 3.5),
}
VGG_NAMES = ["FCDD_CNN224_VGG", "FCDD_CNN224_VGG_F", "FCDD_CNN224_VGG_NOPT"]
CUSTOM_NAMES = sorted(set(EXPECTED) - set(VGG_NAMES))
# Input side for the probe and autocast tests: the nets are fully convolutional, so the 224 nets
# run on 72×72 inputs (extent, jump and start do not depend on the input size) to keep this fast.
PROBE_SIZE = {28: 28, 32: 32, 224: 72}


def test_registry_lists_exactly_the_reference_nets() -> None:
    assert list_networks(FCDDNet) == sorted(EXPECTED)


@pytest.mark.parametrize("name", list_networks(FCDDNet))
def test_declared_receptive_field(name: str) -> None:
    net = build(name)
    shape, size, extent, jump, start = EXPECTED[name]
    assert net.input_shape == shape
    assert net.receptive_field == ReceptiveField(size, extent=extent, jump=jump, start=start)


@pytest.mark.parametrize("name", list_networks(FCDDNet))
def test_forward_backward(name: str) -> None:
    net = build(name).train()
    out = net(randn(2, *net.input_shape))
    assert out.shape == (2, 1, *net.receptive_field.output_size)
    assert torch.isfinite(out).all()
    assert out.std() > 0  # not a degenerate constant map
    out.square().mean().backward()
    for pname, p in net.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), pname
            assert p.grad.abs().sum() > 0, pname
        else:
            assert p.grad is None, pname


@pytest.mark.parametrize("name", list_networks(FCDDNet))
def test_channels_last_and_bf16_autocast(name: str) -> None:
    net = build(name).eval()
    side = PROBE_SIZE[net.input_shape[1]]
    x = randn(2, net.input_shape[0], side, side).to(memory_format=torch.channels_last)
    with torch.no_grad():
        reference = net(x.contiguous())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(x)
    assert out.shape == reference.shape and torch.isfinite(out).all()
    # bf16 has ~3 significant digits; the maps must still agree in shape and rough value.
    assert torch.corrcoef(torch.stack([out.float().flatten(), reference.flatten()]))[0, 1] > 0.9


def _changed_cells(net: FCDDNet, size: int, pixels: list[tuple[int, int]]) -> tuple[Tensor, Tensor]:
    """Which output cells move when one input pixel (all channels) is pushed far up or down.

    Both signs are tried because a max-pool may ignore a change in one direction. All variants
    run in one batch. Returns (output size, bool masks of shape (len(pixels), h, w)).
    """
    x = randn(1, net.input_shape[0], size, size, dtype=torch.float64)
    variants = [x]
    for row, col in pixels:
        for delta in (1e3, -1e3):
            y = x.clone()
            y[:, :, row, col] += delta
            variants.append(y)
    with torch.no_grad():
        out = net(torch.cat(variants))[:, 0]
    # Batched float64 kernels may round differently per sample (~1e-16); real changes here are
    # >= 1e-3, so a 1e-9 threshold separates the two by many orders of magnitude.
    moved = (out[1:] - out[:1]).abs().gt(1e-9).view(len(pixels), 2, *out.shape[-2:]).any(dim=1)
    return torch.tensor(out.shape[-2:]), moved


@pytest.mark.parametrize("name", list_networks(FCDDNet))
def test_empirical_receptive_field(name: str) -> None:
    net = build(name).double().eval()
    size = PROBE_SIZE[net.input_shape[1]]
    # Corners exercise the padding; `jump` consecutive diagonal pixels in the middle hit every
    # position relative to the cell grid, so each patch edge (first/last pixel) gets tested.
    jump = net.receptive_field.jump
    middle = [(p, p) for p in range(size // 2 - jump // 2, size // 2 - jump // 2 + jump)]
    pixels = [(0, 0), (size - 1, size - 1), *middle]
    out_size, moved = _changed_cells(net, size, pixels)
    rf = dataclasses.replace(net.receptive_field, output_size=(int(out_size[0]), int(out_size[1])))
    for pixel, mask in zip(pixels, moved, strict=True):
        rows, cols = covering_cells(rf, *pixel)
        predicted = torch.zeros_like(mask)
        predicted[rows.start : rows.stop, cols.start : cols.stop] = True
        assert not (mask & ~predicted).any(), f"{pixel} moved cells outside its receptive field"
        interior = torch.zeros_like(mask)
        interior[rows.start + 1 : rows.stop - 1, cols.start + 1 : cols.stop - 1] = True
        assert mask[interior].all(), f"{pixel} left interior cells of its receptive field unchanged"
        if name in VGG_NAMES:
            # ReLU units can be dead, so only the bounding box must match, border cells excepted.
            idx = mask.nonzero()
            box = (idx[:, 0].min(), idx[:, 0].max(), idx[:, 1].min(), idx[:, 1].max())
            assert rows.start <= box[0] <= rows.start + 1 and rows.stop - 2 <= box[1] <= rows.stop - 1
            assert cols.start <= box[2] <= cols.start + 1 and cols.stop - 2 <= box[3] <= cols.stop - 1
        else:
            # LeakyReLU keeps every path alive: the moved cells are exactly the predicted ones.
            assert torch.equal(mask, predicted), pixel


@pytest.mark.parametrize("name", CUSTOM_NAMES)
def test_bias_false_removes_biases_and_bn_affine(name: str) -> None:
    net = build(name, bias=False)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert convs and all(m.bias is None for m in convs)
    assert norms and all(not m.affine and m.eps == 1e-4 for m in norms)
    assert all(isinstance(m, nn.LeakyReLU) for m in net.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU)))


@pytest.mark.parametrize("name", VGG_NAMES)
def test_vgg_requires_bias(name: str) -> None:
    with pytest.raises(ValueError, match="bias=True"):
        build(name, bias=False)


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ValueError, match="did you mean 'FCDD_CNN28_W'") as info:
        build_network("FCDD_CNN28W")
    assert ", ".join(sorted(EXPECTED)) in str(info.value)
    with pytest.raises(ValueError, match="did you mean 'FCDD_CNN224_VGG_F'"):
        build_network("fcdd_cnn224_vgg_f")


def test_weights_for_a_net_without_pretraining_is_rejected(tmp_path: Path) -> None:
    for name in ["FCDD_CNN32", "FCDD_CNN224_VGG_NOPT"]:
        with pytest.raises(ValueError, match="takes no pretrained weights"):
            build_network(name, weights=tmp_path / "w.pt")


def test_describe_networks_rows() -> None:
    rows = {row["name"]: row for row in describe_networks()}
    assert sorted(rows) == sorted(EXPECTED)
    for name, (shape, size, extent, jump, start) in EXPECTED.items():
        assert rows[name] == {
            "name": name,
            "input_shape": shape,
            "output_size": size,
            "receptive_field": extent,
            "jump": jump,
            "start": start,
            "pretrained": name in ("FCDD_CNN224_VGG", "FCDD_CNN224_VGG_F"),
        }
