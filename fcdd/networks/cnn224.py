"""Custom FCDD nets for 3×224×224 images: five conv blocks, three 3×3/stride-2 pools, 28×28 map."""

from __future__ import annotations

from torch import Tensor, nn

from fcdd.networks.receptive_field import FCDDNet, LayerBuilder

__all__ = ["FCDD_CNN224", "FCDD_CNN224_W"]

INPUT_SHAPE = (3, 224, 224)
BN_EPS = 1e-4


class _CNN224(FCDDNet):
    """conv5 → P → conv5 → P → conv3 → conv3 → P → conv3 → 1×1 (28×28 map, r 59, j 8, s 0).

    Every conv but the last is followed by BatchNorm and LeakyReLU; every pool P is
    ``MaxPool2d(3, stride=2, padding=1)``, which halves the map and keeps cells centred (s = 0).
    """

    widths: tuple[int, int, int, int, int]

    def __init__(self, *, bias: bool = True) -> None:
        b = LayerBuilder(INPUT_SHAPE)
        w1, w2, w3, w4, w5 = self.widths

        def block(width: int, kernel_size: int) -> list[nn.Module]:
            act = nn.LeakyReLU()
            return b.conv_bn_act(width, kernel_size, act, padding=kernel_size // 2, bias=bias, bn_eps=BN_EPS)

        layers = [
            *block(w1, 5),
            b.max_pool(3, 2, 1),
            *block(w2, 5),
            b.max_pool(3, 2, 1),
            *block(w3, 3),
            *block(w4, 3),
            b.max_pool(3, 2, 1),
            b.conv(w5, 3, padding=1, bias=bias),
            b.conv(1, 1, bias=bias),
        ]
        super().__init__(INPUT_SHAPE, b.receptive_field)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.layers(x)
        return out


class FCDD_CNN224(_CNN224):  # noqa: N801 - the public network names are the original's
    """Narrow 224×224 net: widths 8, 32, 64, 128, 128."""

    widths = (8, 32, 64, 128, 128)


class FCDD_CNN224_W(_CNN224):  # noqa: N801
    """Wide 224×224 net: widths 32, 128, 256, 256, 128."""

    widths = (32, 128, 256, 256, 128)
