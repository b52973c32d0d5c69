"""FCDD nets for 3×32×32 images (CIFAR-10): conv blocks with 2×2 pools down to an 8×8 map."""

from __future__ import annotations

from torch import Tensor, nn

from fcdd.networks.receptive_field import FCDDNet, LayerBuilder

__all__ = ["FCDD_CNN32", "FCDD_CNN32_LW3K", "FCDD_CNN32_S"]

INPUT_SHAPE = (3, 32, 32)
BN_EPS = 1e-4


class _CNN32(FCDDNet):
    """Shared forward; subclasses list their layers in ``_layers``."""

    def __init__(self, *, bias: bool = True) -> None:
        b = LayerBuilder(INPUT_SHAPE)
        layers = self._layers(b, bias)
        super().__init__(INPUT_SHAPE, b.receptive_field)
        self.layers = nn.Sequential(*layers)

    @staticmethod
    def _layers(b: LayerBuilder, bias: bool) -> list[nn.Module]:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.layers(x)
        return out


def _block(b: LayerBuilder, width: int, kernel_size: int, bias: bool) -> list[nn.Module]:
    # "Same" padding keeps the map size; only the pools shrink it.
    act = nn.LeakyReLU()
    return b.conv_bn_act(width, kernel_size, act, padding=kernel_size // 2, bias=bias, bn_eps=BN_EPS)


class FCDD_CNN32(_CNN32):  # noqa: N801 - the public network names are the original's
    """conv5(32) → pool → conv5(64) → pool → conv5(128) → 1×1 (8×8 map, r 32, j 4, s 1.5).

    The last 5×5 conv has no BatchNorm/activation: the original defines a third BatchNorm but
    never uses it, so it is left out here.
    """

    @staticmethod
    def _layers(b: LayerBuilder, bias: bool) -> list[nn.Module]:
        return [
            *_block(b, 32, 5, bias),
            b.max_pool(2),
            *_block(b, 64, 5, bias),
            b.max_pool(2),
            b.conv(128, 5, padding=2, bias=bias),
            b.conv(1, 1, bias=bias),
        ]


class FCDD_CNN32_S(_CNN32):  # noqa: N801
    """Small-kernel variant: conv3(32) → pool → conv3(64) → pool → conv3(128) → 1×1 (r 18)."""

    @staticmethod
    def _layers(b: LayerBuilder, bias: bool) -> list[nn.Module]:
        return [
            *_block(b, 32, 3, bias),
            b.max_pool(2),
            *_block(b, 64, 3, bias),
            b.max_pool(2),
            b.conv(128, 3, padding=1, bias=bias),
            b.conv(1, 1, bias=bias),
        ]


class FCDD_CNN32_LW3K(_CNN32):  # noqa: N801
    """Wide 3×3 net: conv3(128) → P → conv3(256) → conv3(256) → P → conv3(128) → 1×1 (r 22).

    The CIFAR-10 default. As in FCDD_CNN32, the original's unused BatchNorm is left out.
    """

    @staticmethod
    def _layers(b: LayerBuilder, bias: bool) -> list[nn.Module]:
        return [
            *_block(b, 128, 3, bias),
            b.max_pool(2),
            *_block(b, 256, 3, bias),
            *_block(b, 256, 3, bias),
            b.max_pool(2),
            b.conv(128, 3, padding=1, bias=bias),
            b.conv(1, 1, bias=bias),
        ]
