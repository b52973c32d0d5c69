"""What every method provides: a :class:`Method` record and the :class:`Scorer` it makes for a network.

Training, evaluation, figures and `fcdd explain` all go through a method's scorer: per-sample
training losses, test scores with their heatmaps, and how heatmaps reach input resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fcdd import registry
from fcdd.config import HeatmapConfig, RunConfig
from fcdd.networks.build import network_class
from fcdd.networks.registry import NETWORKS

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
    """One objective: the nets it trains, the scorer it makes for them and, for a baseline, its FCDD stand-in rule."""

    name: str
    summary: str
    network_base: type[nn.Module]  # the class every net of this method derives from
    make_scorer: Callable[[HeatmapConfig, nn.Module], Scorer]
    # A baseline's changes to an FCDD config (`--baselines` adds one setting per method that has
    # them, named after the method); None: not a baseline.
    baseline: Callable[[RunConfig], dict[str, Any]] | None = None
    # FCDD net -> this method's net, where it is not the one net of this method naming that FCDD
    # net as its `fcdd_counterpart` (the original's other picks, or none or several name it).
    counterpart_picks: Mapping[str, str] = field(default_factory=dict)

    def counterparts(self) -> dict[str, str]:
        """FCDD net -> this method's net for the same data; empty when no net of this method names an FCDD net.

        The pairing is stated once, on the nets: each baseline net names the FCDD net it stands in
        for (``fcdd_counterpart``, which also sizes its heatmap blur). An FCDD net named by exactly
        one net of this method gets that net; ``counterpart_picks`` settle the rest.
        """
        named: dict[str, list[str]] = {}
        for net in NETWORKS:
            cls = network_class(net)
            fcdd_net = getattr(cls, "fcdd_counterpart", None)
            if fcdd_net is not None and issubclass(cls, self.network_base):
                named.setdefault(fcdd_net, []).append(net)
        for fcdd_net, nets in named.items():
            if len(nets) > 1 and fcdd_net not in self.counterpart_picks:
                raise ValueError(
                    f"{self.name} nets {', '.join(nets)} all name {fcdd_net} as their FCDD counterpart; "
                    f"pick the one that stands in for it in the {self.name} method's counterpart_picks"
                )
        return {**{fcdd_net: nets[0] for fcdd_net, nets in named.items()}, **self.counterpart_picks}

    def counterpart(self, fcdd_net: str) -> str:
        """The net of this method that stands in for FCDD net ``fcdd_net`` (``fcdd_net`` itself for FCDD)."""
        counterparts = self.counterparts()
        if not counterparts:
            return fcdd_net
        if fcdd_net not in counterparts:
            raise registry.unknown(f"FCDD network (for a {self.name} counterpart)", fcdd_net, counterparts)
        return counterparts[fcdd_net]


def stand_in(method: Method, fcdd: RunConfig) -> dict[str, Any]:
    """The changes that make FCDD config ``fcdd`` a run of baseline ``method`` on the same data (reference §3.3).

    The method's counterpart net, its heatmaps blurred over the FCDD net's receptive field, as the
    original's baseline helper sets them.
    """
    return {"objective": method.name, "network.name": method.counterpart(fcdd.network.name), "heatmap.blur": True}
