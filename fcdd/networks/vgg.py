"""FCDD nets on VGG11-BN features for 3×224×224 images, optionally ImageNet-pretrained.

The trunk is torchvision's ``vgg11_bn().features`` cut before its 4th max-pool — conv64, P,
conv128, P, conv256, conv256, P, conv512, conv512, each conv with BatchNorm and ReLU — followed by a
1×1 conv 512→1. Module indices match torchvision's, so its state-dict keys ``features.N.*`` load as is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from fcdd.networks.receptive_field import FCDDNet, LayerBuilder

__all__ = ["FCDD_CNN224_VGG", "FCDD_CNN224_VGG_F", "FCDD_CNN224_VGG_NOPT", "load_vgg11_bn_features"]

logger = logging.getLogger(__name__)

INPUT_SHAPE = (3, 224, 224)
# vgg11_bn feature config up to (not including) the 4th pool; "M" is a 2×2 max-pool.
_VGG11_TRUNK: tuple[int | str, ...] = (64, "M", 128, "M", 256, 256, "M", 512, 512)
N_TRUNK_MODULES = 21  # 6 conv+BN+ReLU triples and 3 pools: vgg11_bn().features[:21]
N_FROZEN_MODULES = 15  # features[:15]: conv64, conv128, conv256, conv256 with their BN/ReLU/pools


def _trunk(b: LayerBuilder) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for item in _VGG11_TRUNK:
        if item == "M":
            layers.append(b.max_pool(2))
        else:
            layers += b.conv_bn_act(int(item), 3, nn.ReLU(inplace=True), padding=1)
    return layers


def _read_state_dict(path: str | os.PathLike[str]) -> Mapping[str, Tensor]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"vgg11_bn weights file not found: {os.fspath(path)!r}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for unreadable files; report them alike
        raise ValueError(
            f"cannot read vgg11_bn weights from {os.fspath(path)!r} ({type(err).__name__}); "
            "pass a file saved with torch.save(vgg11_bn.state_dict(), PATH)"
        ) from None
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(
            f"{os.fspath(path)!r} does not hold a state dict of tensors (got {type(state).__name__}); "
            "pass a file saved with torch.save(vgg11_bn.state_dict(), PATH)"
        )
    return state


NO_WEIGHTS_HINT = (
    "pass --weights PATH with a local vgg11_bn state dict (torch.save(vgg11_bn().state_dict(), PATH)), "
    "or use --net FCDD_CNN224_VGG_NOPT, which trains from scratch"
)


def _weights_error(err: BaseException) -> ValueError:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ValueError(
        f"cannot fetch the ImageNet weights of vgg11_bn ({type(err).__name__}: {reason}); {NO_WEIGHTS_HINT}"
    )


def _download_state_dict() -> Mapping[str, Tensor]:
    import torchvision  # imported here: only this path needs it

    try:
        state: Mapping[str, Tensor] = torchvision.models.VGG11_BN_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
        return state
    except Exception as err:  # offline, proxy, corrupt cache, ...: all end the same way for the user
        raise _weights_error(err) from err


def ensure_weights(weights: str | os.PathLike[str] | None) -> None:
    """Make sure the pretrained weights a run needs are at hand, before anything starts.

    A ``weights`` file must exist; without one, torchvision's ImageNet vgg11_bn file must be in the
    torch hub cache or download into it now (offline, that is a one-line error naming the ways out).
    """
    if weights is not None:
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"vgg11_bn weights file not found: {os.fspath(weights)!r}; {NO_WEIGHTS_HINT}")
        _read_state_dict(weights)  # read as the run will (tensors only): a bad file fails here, not in a trial
        return
    import torchvision

    url = torchvision.models.VGG11_BN_Weights.IMAGENET1K_V1.url
    cached = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
    if os.path.isfile(cached):
        return
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, cached, progress=True)
    except Exception as err:  # noqa: BLE001 - offline, proxy, disk: one message
        raise _weights_error(err) from err


def load_vgg11_bn_features(features: nn.Sequential, weights: str | os.PathLike[str] | None = None) -> None:
    """Copy vgg11_bn feature weights into ``features`` (a trunk built like this module's).

    ``weights`` is a local file holding a vgg11_bn state dict — the full one (``classifier.*`` and
    deeper ``features.*`` keys are ignored) or only its ``features.*`` keys. ``None`` fetches the
    ImageNet weights through torchvision (cached by torch hub; needs network access the first time).
    """
    source = "torchvision ImageNet vgg11_bn" if weights is None else repr(os.fspath(weights))
    state = _download_state_dict() if weights is None else _read_state_dict(weights)
    expected = features.state_dict()
    picked: dict[str, Tensor] = {}
    unexpected: list[str] = []
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if head == "classifier":
            continue
        index = rest.partition(".")[0]
        if head == "features" and index.isdigit():
            if int(index) >= len(features):
                continue  # layers past the 4th pool are not part of the FCDD trunk
            picked[rest] = value
        else:
            unexpected.append(key)
    # Old checkpoints predate BatchNorm's num_batches_tracked; it is a counter, not a weight.
    missing = sorted(k for k in expected if k not in picked and not k.endswith("num_batches_tracked"))
    bad_shape = sorted(k for k in picked if k in expected and picked[k].shape != expected[k].shape)
    unexpected += [f"features.{k}" for k in picked if k not in expected]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s) (e.g. features.{missing[0]})")
    if bad_shape:
        k = bad_shape[0]
        problems.append(
            f"{len(bad_shape)} shape mismatch(es) (e.g. features.{k}: "
            f"{tuple(picked[k].shape)} vs {tuple(expected[k].shape)})"
        )
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s) (e.g. {sorted(unexpected)[0]})")
    if problems:
        raise ValueError(
            f"{source} is not a vgg11_bn state dict: {'; '.join(problems)}; "
            "pass a file saved with torch.save(torchvision.models.vgg11_bn().state_dict(), PATH)"
        )
    features.load_state_dict(picked, strict=False)
    logger.info("loaded vgg11_bn feature weights from %s", source)


class _VGG11Trunk(FCDDNet):
    """VGG11-BN trunk + 1×1 head (28×28 map, r 62, j 8, s 3.5), PyTorch's default initialisation.

    The original's FCDD_CNN224_VGG_NOPT keeps PyTorch's default init of its layers (not
    torchvision's kaiming VGG init), so random weights here mean the same as there.
    """

    def __init__(self, *, bias: bool = True) -> None:
        if not bias:
            raise ValueError(
                f"{type(self).__name__} requires bias=True (its VGG layers carry biases and "
                f"BatchNorm affine parameters), got bias={bias}; drop --no-bias"
            )
        b = LayerBuilder(INPUT_SHAPE)
        layers = _trunk(b)
        head = b.conv(1, 1, bias=True)
        super().__init__(INPUT_SHAPE, b.receptive_field)
        self.features = nn.Sequential(*layers)
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.head(self.features(x))
        return out


class FCDD_CNN224_VGG_NOPT(_VGG11Trunk):  # noqa: N801 - the public network names are the original's
    """VGG11-BN trunk trained from scratch (the ImageNet and Pascal VOC default)."""


class FCDD_CNN224_VGG(_VGG11Trunk):  # noqa: N801
    """VGG11-BN trunk initialised from ImageNet-pretrained torchvision ``vgg11_bn`` features.

    ``pretrained=False`` keeps the random init (used for introspection and tests); ``weights``
    names a local vgg11_bn state-dict file and takes precedence over downloading.
    """

    takes_pretrained_weights = True

    def __init__(
        self, *, bias: bool = True, pretrained: bool = True, weights: str | os.PathLike[str] | None = None
    ) -> None:
        super().__init__(bias=bias)
        if weights is not None or pretrained:
            load_vgg11_bn_features(self.features, weights)


class FCDD_CNN224_VGG_F(FCDD_CNN224_VGG):  # noqa: N801
    """FCDD_CNN224_VGG with the first four conv blocks frozen (the MVTec-AD default).

    ``features[:15]`` (conv64, conv128, conv256, conv256 with their BatchNorm, ReLU and pools)
    get ``requires_grad=False``. Unlike the original, whose frozen BatchNorm layers kept updating
    their running statistics in train mode (drifting away from the pretrained ones), the frozen
    BatchNorm layers here stay in eval mode even after ``train()``: they are truly frozen.
    """

    # Its frozen layers only make sense with pretrained weights (fcdd.methods.build refuses otherwise).
    freezes_pretrained_layers = True

    def __init__(
        self, *, bias: bool = True, pretrained: bool = True, weights: str | os.PathLike[str] | None = None
    ) -> None:
        super().__init__(bias=bias, pretrained=pretrained, weights=weights)
        # Slicing an nn.Sequential shares the modules, so this freezes the trunk's own layers.
        self.features[:N_FROZEN_MODULES].requires_grad_(False)
        self.train(self.training)  # a fresh module is in train mode; put the frozen BN in eval

    def train(self, mode: bool = True) -> FCDD_CNN224_VGG_F:
        super().train(mode)
        self.features[:N_FROZEN_MODULES].eval()
        return self
