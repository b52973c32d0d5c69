"""FCDD nets for 1×28×28 images (Fashion-MNIST): two 5×5 convs, two 2×2 pools, a 1×1 head."""

from __future__ import annotations

from torch import Tensor, nn

from fcdd.networks.receptive_field import FCDDNet, LayerBuilder

__all__ = ["FCDD_CNN28", "FCDD_CNN28_W"]

INPUT_SHAPE = (1, 28, 28)
BN_EPS = 1e-4


class _CNN28(FCDDNet):
    """conv5 + BN + LeakyReLU + pool2 → conv5 → pool2 → conv1×1 (7×7 map, r 16, j 4, s 1.5).

    The second conv has no BatchNorm or activation before its pool, as in the original.
    """

    widths: tuple[int, int]

    def __init__(self, *, bias: bool = True) -> None:
        b = LayerBuilder(INPUT_SHAPE)
        first, second = self.widths
        layers = [
            *b.conv_bn_act(first, 5, nn.LeakyReLU(), padding=2, bias=bias, bn_eps=BN_EPS),
            b.max_pool(2),
            b.conv(second, 5, padding=2, bias=bias),
            b.max_pool(2),
            b.conv(1, 1, bias=bias),
        ]
        super().__init__(INPUT_SHAPE, b.receptive_field)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.layers(x)
        return out


class FCDD_CNN28(_CNN28):  # noqa: N801 - the public network names are the original's
    """Narrow 28×28 net: 8 then 16 channels."""

    widths = (8, 16)


class FCDD_CNN28_W(_CNN28):  # noqa: N801
    """Wide 28×28 net: 128 then 128 channels (the Fashion-MNIST default)."""

    widths = (128, 128)
