"""The VGG11-BN FCDD nets: local and downloaded weights, bad weight files, the frozen blocks, the NOPT init."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch import Tensor, nn

from fcdd.networks.build import build_network
from fcdd.networks.vgg import N_FROZEN_MODULES, N_TRUNK_MODULES
from tests.helpers import build, randn, seeded


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
