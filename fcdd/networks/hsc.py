"""HSC baseline nets: a conv body and a fully connected head that map an image to a vector φ ∈ ℝ^d.

The hypersphere classifier (HSC, reference §1.2) scores an image by ℓ = sqrt(‖φ‖² + 1) − 1 of
this vector; its heatmaps are input gradients (:mod:`fcdd.methods.hsc`). Each net names its
``fcdd_counterpart``: the FCDD net it stands in for as a baseline
(:meth:`fcdd.methods.base.Method.counterparts` derives the other direction from it) and whose
receptive field sizes its heatmap blur kernel.

Layer widths, kernels and head sizes are the reference's (§3.2). Custom nets use LeakyReLU and
BatchNorm with eps 1e-4; ``bias`` switches conv/linear biases and BatchNorm affine parameters
together. The VGG nets are torchvision's ``vgg11_bn`` (built with ``weights=None``, so nothing
downloads unless pretrained weights are asked for) and keep its state-dict key layout.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
import torchvision
from torch import Tensor, nn

from fcdd.networks.vgg import (  # same sources, same errors
    N_FROZEN_MODULES,
    _download_state_dict,
    _read_state_dict,
    load_vgg11_bn_features,
)

__all__ = [
    "CNN28",
    "CNN28_W",
    "CNN32",
    "CNN32_LW3K",
    "CNN224",
    "CNN224_VGG",
    "CNN224_VGG_F",
    "CNN224_VGG_NOPT",
    "CNN224_VGG_NOPT_1000",
    "HSCNet",
]

logger = logging.getLogger(__name__)

BN_EPS = 1e-4
# One conv block of a body: (output channels, kernel size, followed by a pool?). Convs use "same"
# padding, so only the pools shrink the map.
Block = tuple[int, int, bool]


class HSCNet(nn.Module):
    """Base of the HSC nets: images ``(B, C, H, W)`` of ``input_shape`` → features ``(B, feature_dim)``."""

    input_shape: ClassVar[tuple[int, int, int]]
    feature_dim: ClassVar[int]  # d, the length of φ
    fcdd_counterpart: ClassVar[str]  # the FCDD net it stands in for; its receptive field sizes the blur kernel
    takes_pretrained_weights: ClassVar[bool] = False

    def forward(self, x: Tensor) -> Tensor:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


def _body(in_channels: int, blocks: Sequence[Block], pool: tuple[int, int, int], bias: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width, kernel, pooled in blocks:
        layers += [
            nn.Conv2d(in_channels, width, kernel, padding=kernel // 2, bias=bias),
            nn.BatchNorm2d(width, eps=BN_EPS, affine=bias),
            nn.LeakyReLU(),
        ]
        if pooled:
            layers.append(nn.MaxPool2d(pool[0], stride=pool[1], padding=pool[2]))
        in_channels = width
    return nn.Sequential(*layers)


def _mlp_head(in_features: int, hidden: int | None, out_features: int, bias: bool) -> nn.Sequential:
    if hidden is None:
        return nn.Sequential(nn.Linear(in_features, out_features, bias=bias))
    return nn.Sequential(
        nn.Linear(in_features, hidden, bias=bias),
        nn.BatchNorm1d(hidden, eps=BN_EPS, affine=bias),
        nn.LeakyReLU(),
        nn.Linear(hidden, out_features, bias=bias),
    )


class _ConvFC(HSCNet):
    """Conv body (``blocks``) → flatten → fully connected head (``hidden`` → ``feature_dim``)."""

    blocks: ClassVar[tuple[Block, ...]]
    flat_features: ClassVar[int]  # channels × h × w after the body, for the input shape
    hidden: ClassVar[int | None] = None
    pool: ClassVar[tuple[int, int, int]] = (2, 2, 0)  # max-pool kernel, stride, padding

    def __init__(self, *, bias: bool = True) -> None:
        super().__init__()
        self.features = _body(self.input_shape[0], self.blocks, self.pool, bias)
        self.head = _mlp_head(self.flat_features, self.hidden, self.feature_dim, bias)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.head(torch.flatten(self.features(x), 1))
        return out


class CNN28(_ConvFC):
    """conv5(8) → conv5(4), each BN + LeakyReLU + pool2 → FC 196 → 48 (for 1×28×28)."""

    input_shape = (1, 28, 28)
    blocks = ((8, 5, True), (4, 5, True))
    flat_features = 4 * 7 * 7
    feature_dim = 48
    fcdd_counterpart = "FCDD_CNN28"


class CNN28_W(_ConvFC):  # noqa: N801 - the public network names are the original's
    """Wide CNN28: conv5(128) → conv5(64) → FC 3136 → 48."""

    input_shape = (1, 28, 28)
    blocks = ((128, 5, True), (64, 5, True))
    flat_features = 64 * 7 * 7
    feature_dim = 48
    fcdd_counterpart = "FCDD_CNN28_W"


class CNN32(_ConvFC):
    """conv5 32/64/128, each BN + LeakyReLU + pool2 → FC 2048 → 512 + BN + LeakyReLU → 64.

    Its counterpart is FCDD_CNN32_S as in the original (so the blur kernel is 17 wide), although
    its 5×5 convs resemble FCDD_CNN32's.
    """

    input_shape = (3, 32, 32)
    blocks = ((32, 5, True), (64, 5, True), (128, 5, True))
    flat_features = 128 * 4 * 4
    hidden = 512
    feature_dim = 64
    fcdd_counterpart = "FCDD_CNN32_S"


class CNN32_LW3K(_ConvFC):  # noqa: N801
    """conv3 128 → P → 256 → 256 → P → 128 → P → FC 2048 → 512 + BN + LeakyReLU → 64."""

    input_shape = (3, 32, 32)
    blocks = ((128, 3, True), (256, 3, False), (256, 3, True), (128, 3, True))
    flat_features = 128 * 4 * 4
    hidden = 512
    feature_dim = 64
    fcdd_counterpart = "FCDD_CNN32_LW3K"


class CNN224(_ConvFC):
    """conv5 8 → P → conv5 32 → P → conv3 64 → conv3 128 → P → conv3 128 → P → conv3 64 → P
    → FC 3136 → 1536 + BN + LeakyReLU → 784; P = 3×3 max-pool, stride 2, padding 1 (224 → 7).
    """

    input_shape = (3, 224, 224)
    blocks = ((8, 5, True), (32, 5, True), (64, 3, False), (128, 3, True), (128, 3, True), (64, 3, True))
    flat_features = 64 * 7 * 7
    hidden = 1536
    feature_dim = 784
    fcdd_counterpart = "FCDD_CNN224"
    pool = (3, 2, 1)


def _load_vgg11_bn_classifier(classifier: nn.Sequential, weights: str | os.PathLike[str] | None) -> None:
    """Copy the matching ``classifier.N.*`` vgg11_bn weights into ``classifier`` (a prefix of it).

    A source without classifier keys (a features-only file) leaves the head randomly initialised.
    """
    # load_vgg11_bn_features already read and validated the source; it is read again because that
    # helper takes a path, not a state dict (torch hub caches the download: this reads a local file).
    state: Mapping[str, Tensor] = _download_state_dict() if weights is None else _read_state_dict(weights)
    source = "torchvision ImageNet vgg11_bn" if weights is None else repr(os.fspath(weights))
    expected = classifier.state_dict()
    picked = {k.removeprefix("classifier."): v for k, v in state.items() if k.startswith("classifier.")}
    picked = {k: v for k, v in picked.items() if k in expected}
    if not picked:
        logger.warning("%s holds no classifier weights; the HSC head keeps its random init", source)
        return
    missing = sorted(set(expected) - set(picked))
    bad = sorted(k for k in picked if picked[k].shape != expected[k].shape)
    if missing or bad:
        detail = (
            f"missing classifier.{missing[0]}"
            if missing
            else f"classifier.{bad[0]} has shape {tuple(picked[bad[0]].shape)}, "
            f"expected {tuple(expected[bad[0]].shape)}"
        )
        raise ValueError(
            f"{source} does not hold vgg11_bn classifier weights ({detail}); pass a file saved with "
            "torch.save(torchvision.models.vgg11_bn().state_dict(), PATH) or one with features.* keys only"
        )
    classifier.load_state_dict(picked)
    logger.info("loaded vgg11_bn classifier weights from %s", source)


class _VGG(HSCNet):
    """torchvision vgg11_bn (features, 7×7 average pool, classifier) with a cut classifier.

    ``full_classifier`` False keeps Linear-ReLU-Dropout-Linear (→ 4096), True all of it (→ 1000).
    """

    input_shape = (3, 224, 224)
    full_classifier: ClassVar[bool] = False

    def __init__(self, *, bias: bool = True) -> None:
        if not bias:
            raise ValueError(
                f"{type(self).__name__} requires bias=True (its VGG layers carry biases and "
                f"BatchNorm affine parameters), got bias={bias}; drop --no-bias"
            )
        super().__init__()
        vgg = torchvision.models.vgg11_bn(weights=None)
        self.features = vgg.features
        self.avgpool = vgg.avgpool
        # Slicing keeps torchvision's indices, so state-dict keys stay classifier.0.*, classifier.3.*.
        self.classifier = vgg.classifier if self.full_classifier else vgg.classifier[:4]

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))
        return out


class CNN224_VGG_NOPT(_VGG):  # noqa: N801
    """Randomly initialised vgg11_bn, classifier cut after its second Linear (d = 4096)."""

    feature_dim = 4096
    fcdd_counterpart = "FCDD_CNN224_VGG_NOPT"


class CNN224_VGG_NOPT_1000(_VGG):  # noqa: N801
    """Randomly initialised vgg11_bn with its full classifier (d = 1000)."""

    feature_dim = 1000
    fcdd_counterpart = "FCDD_CNN224_VGG_NOPT"
    full_classifier = True


class CNN224_VGG(_VGG):  # noqa: N801
    """vgg11_bn from ImageNet weights, classifier cut after its second Linear (d = 4096).

    ``pretrained=True`` loads the features through :func:`load_vgg11_bn_features` (local
    ``weights`` file, else torchvision's weights API) and, as the original did, the two kept
    classifier Linears from the same source when it holds them. ``pretrained=False`` keeps the
    random init and never touches the network.
    """

    feature_dim = 4096
    fcdd_counterpart = "FCDD_CNN224_VGG"
    takes_pretrained_weights = True

    def __init__(
        self, *, bias: bool = True, pretrained: bool = True, weights: str | os.PathLike[str] | None = None
    ) -> None:
        super().__init__(bias=bias)
        if weights is not None or pretrained:
            load_vgg11_bn_features(self.features, weights)
            _load_vgg11_bn_classifier(self.classifier, weights)


class CNN224_VGG_F(CNN224_VGG):  # noqa: N801
    """CNN224_VGG with the first four conv blocks frozen, like FCDD_CNN224_VGG_F.

    ``features[:15]`` get ``requires_grad=False`` and their BatchNorm layers stay in eval mode
    after ``train()``; the original let their running statistics drift (reference §9.1 item 13).
    """

    fcdd_counterpart = "FCDD_CNN224_VGG_F"
    freezes_pretrained_layers = True

    def __init__(
        self, *, bias: bool = True, pretrained: bool = True, weights: str | os.PathLike[str] | None = None
    ) -> None:
        super().__init__(bias=bias, pretrained=pretrained, weights=weights)
        self.features[:N_FROZEN_MODULES].requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> CNN224_VGG_F:
        super().train(mode)
        self.features[:N_FROZEN_MODULES].eval()
        return self
