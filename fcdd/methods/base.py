"""What every method provides: a :class:`Method` record and the :class:`Scorer` it makes for a network.

Training, evaluation, figures and `fcdd explain` all go through a method's scorer: per-sample
training losses, test scores with their heatmaps, and how heatmaps reach input resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fcdd.config import HeatmapConfig

# The original adds 1e-31 inside the log; clamping the argument instead keeps the loss finite at s=0
# without changing it elsewhere (1e-31 is representable in float32, so the two agree).
_LOG_FLOOR = 1e-31


def anomalous_term(score: Tensor) -> Tensor:
    """−log(1 − exp(−s)), the loss of a sample labelled anomalous (FCDD paper Eq. 1, second term; HSC alike).

    ``-expm1(-s)`` computes 1 − exp(−s) without cancellation for small s.
    """
    return -torch.log((-torch.expm1(-score)).clamp_min(_LOG_FLOOR))


def resize_nearest(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """Full-resolution heatmaps brought to ``size`` by nearest-neighbour interpolation (a no-op at that size)."""
    return maps if tuple(maps.shape[-2:]) == tuple(size) else F.interpolate(maps, size=size, mode="nearest")


def check_images(name: str, tensor: Tensor) -> None:
    """Raise unless ``tensor`` is a (B, C, H, W) batch."""
    if tensor.dim() != 4:
        raise ValueError(f"`{name}` must be a (B, C, H, W) batch, got shape {tuple(tensor.shape)}")


class Scorer(Protocol):
    """A method's arithmetic for one built network."""

    def losses(self, net: nn.Module, inputs: Tensor, labels: Tensor, gt_maps: Tensor | None) -> Tensor:
        """Per-sample training losses (B,); labels 1 = anomalous; ``gt_maps`` (B, 1, H, W) or None."""
        ...

    def score(self, net: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """(anomaly scores (B,), heatmaps (B, 1, h, w)) at test time."""
        ...

    def upsample(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        """Heatmaps of :meth:`score` at input resolution ``size``: what the pixel metrics evaluate."""
        ...

    def picture(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        """Heatmaps of :meth:`score` as figures and `fcdd explain` show them (baselines' blur is visual only)."""
        ...


@dataclass(frozen=True)
class Method:
    """One objective: the nets it trains and the scorer it makes for them."""

    name: str
    summary: str
    network_base: type[nn.Module]  # the class every net of this method derives from
    make_scorer: Callable[[HeatmapConfig, nn.Module], Scorer]
    # FCDD net -> this method's net for the same data (the baselines' counterparts; empty for FCDD).
    counterparts: Mapping[str, str]

    def counterpart(self, fcdd_net: str) -> str:
        """The net of this method that stands in for FCDD net ``fcdd_net``."""
        if not self.counterparts:
            return fcdd_net
        if fcdd_net not in self.counterparts:
            from fcdd import registry

            raise registry.unknown(f"FCDD network (for a {self.name} counterpart)", fcdd_net, self.counterparts)
        return self.counterparts[fcdd_net]
