"""HSC and AE baseline nets: shapes, gradients, the FCDD → baseline table, objectives, VGG weights.

The VGG nets hold up to 240M parameters, so most of their checks run on the meta device (shapes
and flags, no memory, no compute); one VGG HSC and one VGG AE run for real.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch import Tensor, nn

from fcdd.methods import ae, hsc
from fcdd.methods.build import method_of
from fcdd.networks.autoencoders import AENet
from fcdd.networks.build import build_network, list_networks, network_class
from fcdd.networks.hsc import HSCNet, _load_vgg11_bn_classifier
from fcdd.networks.receptive_field import FCDDNet
from fcdd.networks.vgg import N_FROZEN_MODULES
from tests.helpers import build, randn, seeded

# HSC net: (input shape, feature dim d, FCDD counterpart), from the method reference §3.2.
HSC = {
    "CNN28": ((1, 28, 28), 48, "FCDD_CNN28"),
    "CNN28_W": ((1, 28, 28), 48, "FCDD_CNN28_W"),
    "CNN32": ((3, 32, 32), 64, "FCDD_CNN32_S"),
    "CNN32_LW3K": ((3, 32, 32), 64, "FCDD_CNN32_LW3K"),
    "CNN224": ((3, 224, 224), 784, "FCDD_CNN224"),
    "CNN224_VGG": ((3, 224, 224), 4096, "FCDD_CNN224_VGG"),
    "CNN224_VGG_F": ((3, 224, 224), 4096, "FCDD_CNN224_VGG_F"),
    "CNN224_VGG_NOPT": ((3, 224, 224), 4096, "FCDD_CNN224_VGG_NOPT"),
    "CNN224_VGG_NOPT_1000": ((3, 224, 224), 1000, "FCDD_CNN224_VGG_NOPT"),
}
# AE net: its encoder (§3.3).
AE = {
    "AE28": "CNN28",
    "AE28_W": "CNN28_W",
    "AE32": "CNN32",
    "AE32_LW3K": "CNN32_LW3K",
    "AE224": "CNN224",
    "AE224_VGG": "CNN224_VGG",
    "AE224_VGG_F": "CNN224_VGG_F",
    "AE224_VGG_NOPT": "CNN224_VGG_NOPT",
}
# FCDD net: (HSC net, AE net) its baselines train, the original's table (§3.3) with its misspelt
# VGG_F key fixed and FCDD_CNN32 (absent there) mapped like FCDD_CNN32_S.
BASELINE_OF = {
    "FCDD_CNN28": ("CNN28", "AE28"),
    "FCDD_CNN28_W": ("CNN28_W", "AE28"),
    "FCDD_CNN32": ("CNN32", "AE32"),
    "FCDD_CNN32_S": ("CNN32", "AE32"),
    "FCDD_CNN32_LW3K": ("CNN32_LW3K", "AE32_LW3K"),
    "FCDD_CNN224": ("CNN224", "AE224"),
    "FCDD_CNN224_W": ("CNN224", "AE224"),
    "FCDD_CNN224_VGG": ("CNN224_VGG", "AE224_VGG"),
    "FCDD_CNN224_VGG_NOPT": ("CNN224_VGG_NOPT_1000", "AE224_VGG_NOPT"),
    "FCDD_CNN224_VGG_F": ("CNN224_VGG_F", "AE224_VGG_F"),
}
BASELINE_NAMES = sorted(list_networks(HSCNet) + list_networks(AENet))
VGG = sorted(n for n in [*HSC, *AE] if "VGG" in n)
SMALL = sorted(n for n in [*HSC, *AE] if "VGG" not in n)


def baselines_for(fcdd_name: str) -> tuple[str, str]:
    return hsc.METHOD.counterpart(fcdd_name), ae.METHOD.counterpart(fcdd_name)


def objective_of(net: nn.Module | str) -> str:
    return method_of(net).name


def _build_meta(name: str, **kwargs: object) -> nn.Module:
    with torch.device("meta"):
        return build_network(name, pretrained=False, **kwargs)  # type: ignore[arg-type]


def _expected_output_shape(name: str, batch: int) -> tuple[int, ...]:
    if name in HSC:
        return (batch, HSC[name][1])
    return (batch, *HSC[AE[name]][0])


def _check_backward(net: nn.Module, out: Tensor) -> None:
    out.square().mean().backward()
    for pname, p in net.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        else:
            assert p.grad is None, pname


def test_registry_lists_every_reference_baseline() -> None:
    assert BASELINE_NAMES == sorted([*HSC, *AE])
    assert not set(BASELINE_NAMES) & set(list_networks(FCDDNet))  # one name space for --net


@pytest.mark.parametrize("name", sorted([*HSC, *AE]))
def test_shapes_and_metadata_on_meta_device(name: str) -> None:
    net = _build_meta(name)
    input_shape = HSC[name][0] if name in HSC else HSC[AE[name]][0]
    counterpart = HSC[name][2] if name in HSC else HSC[AE[name]][2]
    assert net.input_shape == input_shape
    assert net.fcdd_counterpart == counterpart
    out = net(torch.empty(2, *input_shape, device="meta"))
    assert out.shape == _expected_output_shape(name, 2)
    out.sum().backward()  # every trainable parameter is reached
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", SMALL)
def test_forward_backward(name: str) -> None:
    net = build(name).train()
    x = randn(2, *net.input_shape)
    out = net(x)
    assert out.shape == _expected_output_shape(name, 2)
    assert torch.isfinite(out).all() and out.std() > 0
    _check_backward(net, out)


def test_vgg_forward_backward() -> None:
    """One real VGG run (AE224_VGG_NOPT and so its encoder CNN224_VGG_NOPT); the rest is on meta."""
    net = build("AE224_VGG_NOPT").eval()  # batch 1: BatchNorm1d cannot train on one sample
    # torchvision's adaptive average pool hands the classifier 512×7×7 for any input >= 32×32, so
    # a 32×32 input runs every encoder layer cheaply; the decoder always rebuilds 224×224.
    x = randn(1, 3, 32, 32)
    features = net.encoder(x)
    assert features.shape == (1, 4096) and torch.isfinite(features).all() and features.std() > 0
    # The two 25088×4096 Linears would need 800 MB of gradients; the error still flows through them.
    for m in net.modules():
        if isinstance(m, nn.Linear) and m.weight.numel() > 10**8:
            m.weight.requires_grad_(False)
    out = net(x)
    assert out.shape == (1, 3, 224, 224) and torch.isfinite(out).all() and out.std() > 0
    _check_backward(net, out)
    assert net.encoder.features[0].weight.grad.abs().sum() > 0  # the error reaches the first conv


def test_cnn28_parameter_count_by_hand() -> None:
    # conv 1·8·25+8, BN 2·8, conv 8·4·25+4, BN 2·4, FC 196·48+48.
    assert sum(p.numel() for p in build("CNN28").parameters()) == 208 + 16 + 804 + 8 + 9456


@pytest.mark.parametrize("name", sorted(AE))
def test_ae_encoder_is_the_matching_hsc_net(name: str) -> None:
    net = _build_meta(name)
    assert isinstance(net, AENet) and isinstance(net.encoder, HSCNet)
    assert type(net.encoder) is network_class(AE[name])


@pytest.mark.parametrize("name", ["AE28", "AE28_W", "AE224"])
def test_sigmoid_output_and_linear_output_flag(name: str) -> None:
    original = _build_meta(name)
    linear = _build_meta(name, linear_output=True)
    assert original.sigmoid_output and not linear.sigmoid_output


def test_linear_output_flag_in_values() -> None:
    x = randn(4, 1, 28, 28) * 5
    original = build("AE28").eval()(x)
    linear = build("AE28", linear_output=True).eval()(x)
    assert original.min() >= 0 and original.max() <= 1
    assert torch.allclose(original, torch.sigmoid(linear))  # same weights (same seed), no sigmoid


def test_linear_output_rejected_for_hsc_nets() -> None:
    with pytest.raises(ValueError, match="autoencoders only"):
        build_network("CNN28", linear_output=True)


@pytest.mark.parametrize("name", SMALL)
def test_bias_false_removes_biases_and_affine(name: str) -> None:
    net = build(name, bias=False)
    weighted = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    norms = [m for m in net.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    assert weighted and all(m.bias is None for m in weighted)
    assert norms and all(not m.affine and m.eps == 1e-4 for m in norms)


@pytest.mark.parametrize("name", VGG)
def test_vgg_requires_bias(name: str) -> None:
    with pytest.raises(ValueError, match="bias=True"):
        build_network(name, bias=False, pretrained=False)


@pytest.mark.parametrize("name", ["CNN224_VGG_F", "AE224_VGG_F"])
def test_vgg_f_freezes_first_blocks_and_their_batchnorm(name: str) -> None:
    net = _build_meta(name)
    vgg = net.encoder if isinstance(net, AENet) else net
    frozen = vgg.features[:N_FROZEN_MODULES]
    assert sum(isinstance(m, nn.Conv2d) for m in frozen) == 4
    assert not any(p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in vgg.features[N_FROZEN_MODULES:].parameters())
    net.eval().train()
    assert net.training and vgg.features[N_FROZEN_MODULES + 1].training
    assert not any(m.training for m in frozen if isinstance(m, nn.BatchNorm2d))


def test_vgg_nopt_1000_keeps_the_full_classifier() -> None:
    net = _build_meta("CNN224_VGG_NOPT_1000")
    cut = _build_meta("CNN224_VGG_NOPT")
    assert len(net.classifier) == 7 and len(cut.classifier) == 4
    assert sorted(cut.state_dict()) == sorted(k for k in net.state_dict() if not k.startswith("classifier.6."))


def _no_downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def offline(*args: object, **kwargs: object) -> None:
        calls.append("download")
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.models.VGG11_BN_Weights, "get_state_dict", offline)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    return calls


@pytest.mark.parametrize("name", VGG)
def test_vgg_without_pretraining_never_downloads(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _no_downloads(monkeypatch)
    _build_meta(name)
    assert calls == []


@pytest.mark.parametrize("name", ["CNN224_VGG", "CNN224_VGG_F", "AE224_VGG", "AE224_VGG_F"])
def test_vgg_pretrained_download_failure_points_to_weights(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _no_downloads(monkeypatch)
    with torch.device("meta"), pytest.raises(ValueError, match="--weights PATH"):
        build_network(name)
    assert calls == ["download"]


@pytest.fixture(scope="module")
def features_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Tensor]]:
    """A seeded random vgg11_bn ``features.*`` state dict on disk (no classifier: 400 MB otherwise)."""
    with torch.device("meta"):
        features = torchvision.models.vgg11_bn(weights=None).features
    features.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(7)
    state = {}
    for key, t in features.state_dict().items():
        value = torch.full_like(t, 3) if key.endswith("num_batches_tracked") else torch.rand(t.shape, generator=gen)
        state[f"features.{key}"] = value
    path = tmp_path_factory.mktemp("vgg") / "features.pt"
    torch.save(state, path)
    return path, state


def test_vgg_hsc_loads_local_feature_weights(
    features_file: tuple[Path, dict[str, Tensor]], caplog: pytest.LogCaptureFixture
) -> None:
    path, state = features_file
    with seeded(0):
        net = build_network("CNN224_VGG_F", weights=path)
    for key, value in net.features.state_dict().items():
        assert torch.equal(value, state[f"features.{key}"]), key
    assert "no classifier weights" in caplog.text  # the head keeps its random init, and says so


def test_classifier_loader_copies_kept_layers_and_rejects_bad_shapes(tmp_path: Path) -> None:
    # A small stand-in with the vgg classifier's layout: Linear, ReLU, Dropout, Linear (cut at 4).
    def classifier() -> nn.Sequential:
        return nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Dropout(), nn.Linear(4, 4))

    with seeded(3):
        source = nn.Sequential(*classifier(), nn.ReLU(), nn.Dropout(), nn.Linear(4, 2))
    good = tmp_path / "good.pt"
    torch.save({f"classifier.{k}": v for k, v in source.state_dict().items()}, good)
    target = classifier()
    _load_vgg11_bn_classifier(target, good)
    assert torch.equal(target[0].weight, source[0].weight) and torch.equal(target[3].bias, source[3].bias)

    bad = tmp_path / "bad.pt"
    torch.save({"classifier.0.weight": torch.zeros(4, 5), "classifier.0.bias": torch.zeros(4)}, bad)
    with pytest.raises(ValueError, match="classifier") as info:
        _load_vgg11_bn_classifier(classifier(), bad)
    assert str(bad) in str(info.value)


def test_mapping_covers_every_fcdd_net_with_registered_baselines() -> None:
    assert sorted(BASELINE_OF) == sorted(hsc.METHOD.counterparts()) == sorted(ae.METHOD.counterparts())
    assert sorted(BASELINE_OF) == list_networks(FCDDNet)
    for fcdd_name, (hsc_name, ae_name) in BASELINE_OF.items():
        assert objective_of(hsc_name) == "hsc", fcdd_name
        assert objective_of(ae_name) == "ae", fcdd_name
        assert baselines_for(fcdd_name) == (hsc_name, ae_name)
    # The original's misspelt key made the MVTec default net fail (§9.1 item 6).
    assert baselines_for("FCDD_CNN224_VGG_F") == ("CNN224_VGG_F", "AE224_VGG_F")
    assert baselines_for("FCDD_CNN32") == baselines_for("FCDD_CNN32_S") == ("CNN32", "AE32")


def test_baselines_for_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ValueError, match="did you mean 'FCDD_CNN224_VGG_F'") as info:
        baselines_for("FCD_CNN224_VGG_F")
    assert ", ".join(list_networks(FCDDNet)) in str(info.value)


def test_build_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ValueError, match="did you mean 'CNN28_W'"):
        build_network("cnn28w")


def test_weights_for_a_net_without_pretraining_is_rejected(tmp_path: Path) -> None:
    for name in ["CNN32", "AE224_VGG_NOPT", "CNN224_VGG_NOPT_1000"]:
        with pytest.raises(ValueError, match="takes no pretrained weights"):
            build_network(name, weights=tmp_path / "w.pt")


def test_objective_of_nets_and_names() -> None:
    assert objective_of(build_network("FCDD_CNN28")) == "fcdd"
    assert objective_of(build("CNN28")) == "hsc"
    assert objective_of(build("AE28")) == "ae"
    assert objective_of("FCDD_CNN224_VGG_F") == "fcdd"
    assert objective_of("CNN224_VGG_NOPT_1000") == "hsc"
    assert objective_of("AE224_VGG_F") == "ae"
    with pytest.raises(ValueError, match="no method trains a Linear"):
        objective_of(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="did you mean 'AE28'"):
        objective_of("AE-28")
