"""Every registered FCDD network: shapes, gradients, declared vs empirical receptive field, weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torchvision
from torch import Tensor, nn

from fcdd.networks.build import build_network, describe_networks, list_networks
from fcdd.networks.receptive_field import FCDDNet, ReceptiveField, covering_cells
from fcdd.networks.vgg import N_FROZEN_MODULES, N_TRUNK_MODULES
from tests.helpers import build, randn, seeded

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


@pytest.fixture(scope="module")
def vgg_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Tensor]]:
    """A seeded random torchvision vgg11_bn state dict on disk, in torchvision's key layout."""
    # torchvision's own module, for its exact key layout. Built on the meta device to skip
    # initialising the 120M-parameter classifier, then filled with seeded values; BatchNorm
    # statistics get random values too, as the defaults (0, 1) would match any fresh net.
    with torch.device("meta"):
        vgg = torchvision.models.vgg11_bn(weights=None)
    with seeded(7):
        vgg.classifier = nn.Sequential(nn.Linear(3, 2))  # small stand-in: classifier.* is ignored
    vgg.features.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, t in vgg.features.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(3)
            else:
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
    state = vgg.state_dict()
    path = tmp_path_factory.mktemp("vgg") / "vgg11_bn.pt"
    torch.save(state, path)
    return path, state


@pytest.mark.parametrize("name", ["FCDD_CNN224_VGG", "FCDD_CNN224_VGG_F"])
def test_vgg_loads_local_weights(name: str, vgg_state: tuple[Path, dict[str, Tensor]]) -> None:
    path, state = vgg_state
    net = build_network(name, weights=path)
    loaded = net.features.state_dict()
    assert len(net.features) == N_TRUNK_MODULES
    assert sorted(loaded) == sorted(
        k.removeprefix("features.")
        for k in state
        if k.startswith("features.") and int(k.split(".")[1]) < N_TRUNK_MODULES
    )
    for key, value in loaded.items():
        assert torch.equal(value, state[f"features.{key}"]), key


def test_vgg_loads_feature_only_dict(vgg_state: tuple[Path, dict[str, Tensor]], tmp_path: Path) -> None:
    _, state = vgg_state
    path = tmp_path / "features.pt"
    torch.save({k: v for k, v in state.items() if k.startswith("features.")}, path)
    net = build_network("FCDD_CNN224_VGG", weights=path)
    assert torch.equal(net.features[18].weight, state["features.18.weight"])


def test_vgg_rejects_bad_weight_files(vgg_state: tuple[Path, dict[str, Tensor]], tmp_path: Path) -> None:
    _, state = vgg_state
    missing = tmp_path / "missing_key.pt"
    torch.save({k: v for k, v in state.items() if k != "features.4.weight"}, missing)
    wrong_shape = tmp_path / "wrong_shape.pt"
    torch.save({**state, "features.0.weight": torch.zeros(64, 1, 3, 3)}, wrong_shape)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"definitely not a checkpoint")
    other_net = tmp_path / "cnn32.pt"
    torch.save(build("FCDD_CNN32").state_dict(), other_net)
    cases = [
        (missing, "1 missing key"),
        (wrong_shape, "shape mismatch"),
        (corrupt, "cannot read"),
        (other_net, "unexpected key"),
    ]
    for path, reason in cases:
        with pytest.raises(ValueError, match=reason) as info:
            build_network("FCDD_CNN224_VGG", weights=path)
        assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        build_network("FCDD_CNN224_VGG", weights=tmp_path / "nope.pt")


def test_vgg_download_failure_points_to_weights_option(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(self: object, progress: bool = True) -> dict[str, Tensor]:
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.models.VGG11_BN_Weights, "get_state_dict", offline)
    with pytest.raises(ValueError, match="--weights PATH.*--net FCDD_CNN224_VGG_NOPT"):
        build_network("FCDD_CNN224_VGG_F")


def test_vgg_f_freezes_first_blocks_and_their_batchnorm() -> None:
    net = build("FCDD_CNN224_VGG_F")
    frozen = net.features[:N_FROZEN_MODULES]
    assert [type(m) for m in frozen if isinstance(m, nn.Conv2d)] == [nn.Conv2d] * 4
    assert not any(p.requires_grad for p in frozen.parameters())
    assert net.features[N_FROZEN_MODULES].weight.requires_grad  # first unfrozen conv (conv512)
    assert net.head.weight.requires_grad

    net.eval().train()
    frozen_bn = [m for m in frozen if isinstance(m, nn.BatchNorm2d)]
    free_bn = net.features[N_FROZEN_MODULES + 1]
    assert net.training and free_bn.training and not any(m.training for m in frozen_bn)
    before = [m.running_mean.clone() for m in frozen_bn]
    free_before = free_bn.running_mean.clone()
    net(randn(2, 3, 64, 64)).sum().backward()
    assert all(torch.equal(m.running_mean, b) for m, b in zip(frozen_bn, before, strict=True))
    assert not torch.equal(free_bn.running_mean, free_before)
    assert all(p.grad is None for p in frozen.parameters())


def test_vgg_nopt_keeps_pytorch_default_init_like_the_original() -> None:
    # PyTorch's conv default draws weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in));
    # torchvision's VGG init (kaiming normal on fan_out, zero bias) breaks both bounds.
    net = build("FCDD_CNN224_VGG_NOPT")
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 7
    for conv in convs:
        bound = 1 / conv.weight[0].numel() ** 0.5
        assert conv.weight.abs().max() <= bound + 1e-6
        assert conv.bias is not None and conv.bias.abs().max() <= bound + 1e-6 and conv.bias.abs().sum() > 0
