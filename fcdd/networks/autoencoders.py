"""AE baseline nets: the matching HSC net as encoder, a deconvolution decoder back to the input size.

The autoencoder baseline (reference §1.2, §3.3) scores an image by its mean squared
reconstruction error; its heatmap is the per-pixel error (:mod:`fcdd.methods.ae`).

Output activation: AE28, AE28_W and AE224 end in a sigmoid, as in the original, although the
inputs they reconstruct are standardised and can be negative (or above 1), so part of every
input is out of reach and the reconstruction error never gets near zero there. The
architecture is kept for comparability with the paper's numbers; ``linear_output=True`` drops
the sigmoid, which is the better choice for standardised inputs (the other AEs already end
linearly, so the flag changes nothing for them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from fcdd.networks.hsc import (
    CNN28,
    CNN28_W,
    CNN32,
    CNN32_LW3K,
    CNN224,
    CNN224_VGG,
    CNN224_VGG_F,
    CNN224_VGG_NOPT,
    HSCNet,
)

__all__ = [
    "AE28",
    "AE28_W",
    "AE32",
    "AE32_LW3K",
    "AE224",
    "AE224_VGG",
    "AE224_VGG_F",
    "AE224_VGG_NOPT",
    "AENet",
]

BN_EPS = 1e-4
# A decoder step: "U" is a nearest ×2 upsampling; (out channels, kernel, padding) a stride-1
# ConvTranspose2d. Every deconv but the last is followed by BatchNorm and the activation.
Step = Literal["U"] | tuple[int, int, int]


def _decoder(
    prefix: Sequence[nn.Module],
    in_channels: int,
    steps: Sequence[Step],
    *,
    bias: bool,
    activation: type[nn.Module],
    bn_eps: float,
    xavier: bool,
) -> nn.Sequential:
    layers = list(prefix)
    n_deconvs = sum(step != "U" for step in steps)
    done = 0
    for step in steps:
        if step == "U":
            layers.append(nn.Upsample(scale_factor=2))
            continue
        out_channels, kernel, padding = step
        deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel, padding=padding, bias=bias)
        if xavier:
            # The original initialises these decoders so; the others keep PyTorch's default.
            nn.init.xavier_uniform_(deconv.weight, gain=nn.init.calculate_gain("leaky_relu"))
        layers.append(deconv)
        done += 1
        if done < n_deconvs:
            layers += [nn.BatchNorm2d(out_channels, eps=bn_eps, affine=bias), activation()]
        in_channels = out_channels
    return nn.Sequential(*layers)


class AENet(nn.Module):
    """Base of the AE nets: images ``(B, C, H, W)`` of ``input_shape`` → reconstructions, same shape.

    ``encoder`` is an :class:`HSCNet` (``encoder_cls``); ``input_shape`` and ``fcdd_counterpart``
    are the encoder's.
    """

    encoder_cls: ClassVar[type[HSCNet]]
    input_shape: ClassVar[tuple[int, int, int]]
    fcdd_counterpart: ClassVar[str]
    takes_pretrained_weights: ClassVar[bool] = False
    original_sigmoid: ClassVar[bool] = False  # whether the original ends in a sigmoid

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "encoder_cls" in cls.__dict__:
            cls.input_shape = cls.encoder_cls.input_shape
            cls.fcdd_counterpart = cls.encoder_cls.fcdd_counterpart

    def __init__(self, encoder: HSCNet, decoder: nn.Module, *, linear_output: bool) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.sigmoid_output = self.original_sigmoid and not linear_output

    def forward(self, x: Tensor) -> Tensor:
        out = self.decoder(self.encoder(x))
        return torch.sigmoid(out) if self.sigmoid_output else out


class _AE28(AENet):
    """48-d code → 3×4×4 → LeakyReLU → 3 × (upsample ×2, deconv5) → 1×28×28, sigmoid."""

    original_sigmoid = True
    widths: ClassVar[tuple[int, int]]
    xavier: ClassVar[bool]

    def __init__(self, *, bias: bool = True, linear_output: bool = False) -> None:
        w1, w2 = self.widths
        # 4 → 8 → 16 → 14 (padding 3) → 28.
        steps: list[Step] = ["U", (w1, 5, 2), "U", (w2, 5, 3), "U", (self.input_shape[0], 5, 2)]
        prefix = [nn.Unflatten(1, (3, 4, 4)), nn.LeakyReLU()]
        decoder = _decoder(prefix, 3, steps, bias=bias, activation=nn.LeakyReLU, bn_eps=BN_EPS, xavier=self.xavier)
        super().__init__(self.encoder_cls(bias=bias), decoder, linear_output=linear_output)


class AE28(_AE28):
    """CNN28 encoder; decoder widths 4, 8 (Xavier init)."""

    encoder_cls = CNN28
    widths = (4, 8)
    xavier = True


class AE28_W(_AE28):  # noqa: N801 - the public network names are the original's
    """CNN28_W encoder; decoder widths 64, 128 (PyTorch default init)."""

    encoder_cls = CNN28_W
    widths = (64, 128)
    xavier = False


class AE32(AENet):
    """CNN32 encoder; BN1d(64) → 4×4×4 → deconv5 128, 64, 32 with 3 upsamplings → 3×32×32, linear."""

    encoder_cls = CNN32

    def __init__(self, *, bias: bool = True, linear_output: bool = False) -> None:
        steps: list[Step] = [(128, 5, 2), "U", (64, 5, 2), "U", (32, 5, 2), "U", (self.input_shape[0], 5, 2)]
        prefix = [nn.BatchNorm1d(64, eps=BN_EPS, affine=bias), nn.Unflatten(1, (4, 4, 4)), nn.LeakyReLU()]
        decoder = _decoder(prefix, 4, steps, bias=bias, activation=nn.LeakyReLU, bn_eps=BN_EPS, xavier=True)
        super().__init__(CNN32(bias=bias), decoder, linear_output=linear_output)


class AE32_LW3K(AENet):  # noqa: N801
    """CNN32_LW3K encoder; BN1d(64) → 4×4×4 → deconv3 128, 256, 256, 128 with 3 upsamplings → 3×32×32."""

    encoder_cls = CNN32_LW3K

    def __init__(self, *, bias: bool = True, linear_output: bool = False) -> None:
        steps: list[Step] = [
            (128, 3, 1),
            "U",
            (256, 3, 1),
            (256, 3, 1),
            "U",
            (128, 3, 1),
            "U",
            (self.input_shape[0], 3, 1),
        ]
        prefix = [nn.BatchNorm1d(64, eps=BN_EPS, affine=bias), nn.Unflatten(1, (4, 4, 4)), nn.LeakyReLU()]
        decoder = _decoder(prefix, 4, steps, bias=bias, activation=nn.LeakyReLU, bn_eps=BN_EPS, xavier=False)
        super().__init__(CNN32_LW3K(bias=bias), decoder, linear_output=linear_output)


class AE224(AENet):
    """CNN224 encoder; BN1d(784) → 16×7×7 → 7 deconvs with 5 upsamplings → 3×224×224, sigmoid."""

    encoder_cls = CNN224
    original_sigmoid = True

    def __init__(self, *, bias: bool = True, linear_output: bool = False) -> None:
        steps: list[Step] = [
            (64, 3, 1),
            "U",
            (128, 3, 1),
            "U",
            (128, 3, 1),
            "U",
            (64, 3, 1),
            (32, 3, 1),
            "U",
            (8, 5, 2),
            "U",
            (self.input_shape[0], 5, 2),
        ]
        prefix = [nn.BatchNorm1d(784, eps=BN_EPS, affine=bias), nn.Unflatten(1, (16, 7, 7)), nn.LeakyReLU()]
        decoder = _decoder(prefix, 16, steps, bias=bias, activation=nn.LeakyReLU, bn_eps=BN_EPS, xavier=True)
        super().__init__(CNN224(bias=bias), decoder, linear_output=linear_output)


def _vgg_decoder(out_channels: int) -> nn.Sequential:
    # Mirrors vgg11_bn: undo the classifier to 512×7×7, then five ×2 upsamplings back to 224.
    prefix = [
        nn.BatchNorm1d(4096),
        nn.ReLU(inplace=True),
        nn.Linear(4096, 512 * 7 * 7),
        nn.BatchNorm1d(512 * 7 * 7),
        nn.ReLU(inplace=True),
        nn.Unflatten(1, (512, 7, 7)),
    ]
    steps: list[Step] = [
        "U",
        (512, 3, 1),
        (512, 3, 1),
        "U",
        (512, 3, 1),
        (256, 3, 1),
        "U",
        (256, 3, 1),
        (128, 3, 1),
        "U",
        (64, 3, 1),
        "U",
        (out_channels, 3, 1),
    ]
    return _decoder(prefix, 512, steps, bias=True, activation=nn.ReLU, bn_eps=1e-5, xavier=False)


class AE224_VGG(AENet):  # noqa: N801
    """CNN224_VGG encoder (4096-d, ImageNet weights) → BN + ReLU → Linear 4096 → 25088 + BN + ReLU
    → 512×7×7 → 5 × (upsample ×2, deconv3) → 3×224×224, linear output.

    ``pretrained`` and ``weights`` go to the encoder (see :class:`CNN224_VGG`); ``bias`` must be True.
    """

    encoder_cls: ClassVar[type[HSCNet]] = CNN224_VGG
    takes_pretrained_weights = True

    def __init__(
        self,
        *,
        bias: bool = True,
        pretrained: bool = True,
        weights: str | os.PathLike[str] | None = None,
        linear_output: bool = False,
    ) -> None:
        encoder = self.encoder_cls(bias=bias, pretrained=pretrained, weights=weights)
        super().__init__(encoder, _vgg_decoder(self.input_shape[0]), linear_output=linear_output)


class AE224_VGG_F(AE224_VGG):  # noqa: N801
    """AE224_VGG whose encoder is CNN224_VGG_F (first four conv blocks frozen)."""

    encoder_cls = CNN224_VGG_F


class AE224_VGG_NOPT(AENet):  # noqa: N801
    """AE224_VGG with a randomly initialised encoder (CNN224_VGG_NOPT)."""

    encoder_cls = CNN224_VGG_NOPT

    def __init__(self, *, bias: bool = True, linear_output: bool = False) -> None:
        super().__init__(CNN224_VGG_NOPT(bias=bias), _vgg_decoder(self.input_shape[0]), linear_output=linear_output)
