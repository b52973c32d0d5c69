"""Receptive-field arithmetic, a layer builder that tracks it, and the FCDD network base class.

Every output cell of a fully convolutional network sees a square patch of the input. Three numbers
describe all patches at once (standard receptive-field arithmetic, tracked layer by layer):

- extent r: side of the patch in input pixels,
- jump j: input-pixel distance between the centres of neighbouring output cells,
- start s: centre of output cell 0, in input pixel coordinates (pixel k has centre k).

Cell i therefore sees input pixels ``ceil(s + i·j - (r-1)/2) … floor(s + i·j + (r-1)/2)``. Padding
pixels count as part of the patch, so border cells see fewer real pixels than r.

Tracking only works when every spatial layer goes through :class:`LayerBuilder`; a conv created
as a plain ``nn.Conv2d`` elsewhere would silently break the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

from torch import Tensor, nn

__all__ = ["FCDDNet", "LayerBuilder", "ReceptiveField", "covering_cells"]


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of a network's output cells (see the module docstring)."""

    output_size: tuple[int, int]  # (h, w) of the output map
    extent: int  # r: side of each cell's patch, in input pixels
    jump: int  # j: input-pixel distance between neighbouring output cells
    start: float  # s: centre of output cell 0, in input pixel coordinates

    @classmethod
    def of_input(cls, size: tuple[int, int]) -> ReceptiveField:
        """The identity before any layer: every input pixel is its own cell."""
        h, w = size
        if h < 1 or w < 1:
            raise ValueError(f"input size must be positive, got size={size!r}")
        return cls(output_size=(h, w), extent=1, jump=1, start=0.0)

    def after(self, kernel_size: int, stride: int = 1, padding: int = 0) -> ReceptiveField:
        """Receptive field after one square conv or max-pool layer with these settings."""
        if kernel_size < 1 or stride < 1 or padding < 0:
            raise ValueError(
                "need kernel_size >= 1, stride >= 1, padding >= 0, got "
                f"kernel_size={kernel_size}, stride={stride}, padding={padding}"
            )
        size = tuple((n + 2 * padding - kernel_size) // stride + 1 for n in self.output_size)
        if min(size) < 1:
            raise ValueError(
                f"a layer with kernel_size={kernel_size}, padding={padding} does not fit a "
                f"{self.output_size[0]}x{self.output_size[1]} map; use a larger input"
            )
        return ReceptiveField(
            output_size=(size[0], size[1]),
            extent=self.extent + (kernel_size - 1) * self.jump,
            jump=self.jump * stride,
            start=self.start + ((kernel_size - 1) / 2 - padding) * self.jump,
        )


def _cells_along(rf: ReceptiveField, pixel: int, n_cells: int) -> range:
    # Solve s + i·j - (r-1)/2 <= p <= s + i·j + (r-1)/2 for integer i; exact rationals avoid
    # off-by-one errors at patch borders.
    half = Fraction(rf.extent - 1, 2)
    offset = Fraction(pixel) - Fraction(rf.start)
    first = math.ceil((offset - half) / rf.jump)
    last = math.floor((offset + half) / rf.jump)
    return range(max(first, 0), min(last, n_cells - 1) + 1)


def covering_cells(rf: ReceptiveField, pixel_row: int, pixel_col: int) -> tuple[range, range]:
    """Output cells whose receptive field contains input pixel ``(pixel_row, pixel_col)``.

    Returns ``(rows, cols)``: the cells form the rectangle ``rows × cols``, clipped to the output map.
    """
    h, w = rf.output_size
    return _cells_along(rf, pixel_row, h), _cells_along(rf, pixel_col, w)


def _square(value: int | tuple[int, ...], name: str) -> int:
    if isinstance(value, int):
        return value
    if len(set(value)) != 1:
        raise ValueError(f"only square `{name}` is tracked, got {name}={value!r}")
    return value[0]


class LayerBuilder:
    """Creates conv / max-pool / BatchNorm layers and keeps the running receptive field and width.

    Build a network's layers in forward order through one builder; read ``receptive_field`` at the
    end. The builder holds no modules itself, so it can be used before ``nn.Module.__init__``.
    """

    def __init__(self, input_shape: tuple[int, int, int]) -> None:
        channels, height, width = input_shape
        self.channels = channels
        self.receptive_field = ReceptiveField.of_input((height, width))

    def conv(
        self, out_channels: int, kernel_size: int, *, padding: int = 0, stride: int = 1, bias: bool = True
    ) -> nn.Conv2d:
        """A square ``nn.Conv2d`` from the current width to ``out_channels``."""
        layer = nn.Conv2d(self.channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias)
        self.receptive_field = self.receptive_field.after(kernel_size, stride, padding)
        self.channels = out_channels
        return layer

    def max_pool(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> nn.MaxPool2d:
        """A square ``nn.MaxPool2d``; ``stride`` defaults to ``kernel_size`` as in PyTorch."""
        stride = kernel_size if stride is None else stride
        layer = nn.MaxPool2d(kernel_size, stride=stride, padding=padding)
        self.receptive_field = self.receptive_field.after(kernel_size, stride, padding)
        return layer

    def batch_norm(self, *, eps: float = 1e-5, affine: bool = True) -> nn.BatchNorm2d:
        """``nn.BatchNorm2d`` over the current width (does not change the receptive field)."""
        return nn.BatchNorm2d(self.channels, eps=eps, affine=affine)

    def conv_bn_act(
        self,
        out_channels: int,
        kernel_size: int,
        activation: nn.Module,
        *,
        padding: int,
        bias: bool = True,
        bn_eps: float = 1e-5,
    ) -> list[nn.Module]:
        """Conv, BatchNorm, activation. ``bias`` sets both the conv bias and the BatchNorm affine."""
        conv = self.conv(out_channels, kernel_size, padding=padding, bias=bias)
        return [conv, self.batch_norm(eps=bn_eps, affine=bias), activation]


class FCDDNet(nn.Module):
    """Base of all FCDD networks: images ``(B, C, H, W)`` → raw score maps ``(B, 1, h, w)``.

    The score map is the network output φ before the pseudo-Huber transform. ``receptive_field``
    describes its cells for inputs of ``input_shape``; the nets are fully convolutional, so other
    input sizes work too (extent, jump and start stay the same; only the output size changes).
    """

    # Whether the net starts from ImageNet weights when built with pretrained=True.
    takes_pretrained_weights: ClassVar[bool] = False

    input_shape: tuple[int, int, int]
    receptive_field: ReceptiveField

    def __init__(self, input_shape: tuple[int, int, int], receptive_field: ReceptiveField) -> None:
        super().__init__()
        self.input_shape = input_shape
        self.receptive_field = receptive_field

    def forward(self, x: Tensor) -> Tensor:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError
