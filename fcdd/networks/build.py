"""Building registered networks by name, and describing the FCDD nets' receptive fields."""

from __future__ import annotations

import functools
import os
from typing import Any, cast

from torch import nn

from fcdd import registry
from fcdd.networks.autoencoders import AENet
from fcdd.networks.receptive_field import FCDDNet
from fcdd.networks.registry import NETWORKS

__all__ = ["build_network", "describe_networks", "list_networks", "network_class", "network_input_shape"]


def network_class(name: str) -> type[nn.Module]:
    """The class registered under ``name``; unknown names list the known ones (case-insensitive hint)."""
    return registry.lookup_class(NETWORKS, name, "network", nn.Module, fold_case=True)


def list_networks(base: type = nn.Module) -> list[str]:
    """Sorted names of the registered networks whose class derives from ``base`` (default: all)."""
    return sorted(name for name in NETWORKS if issubclass(network_class(name), base))


def takes_pretrained(name: str) -> bool:
    """Whether the network starts from ImageNet weights (and so takes ``pretrained`` and ``weights``)."""
    return bool(getattr(network_class(name), "takes_pretrained_weights", False))


@functools.cache
def network_input_shape(name: str) -> tuple[int, int, int]:
    """The (C, H, W) network ``name`` takes, from a shape-only build on the meta device (nothing downloaded)."""
    import torch

    with torch.device("meta"):
        net = build_network(name, pretrained=False)
    shape: Any = net.input_shape
    return cast(tuple[int, int, int], tuple(shape))


def build_network(
    name: str,
    *,
    bias: bool = True,
    pretrained: bool = True,
    weights: str | os.PathLike[str] | None = None,
    linear_output: bool = False,
) -> nn.Module:
    """Build network ``name`` (an FCDD net, an HSC net or an autoencoder).

    ``bias`` sets conv/linear biases and BatchNorm affine parameters (VGG nets require True).
    ``pretrained`` matters only for nets that start from ImageNet weights (the others ignore it);
    ``weights`` is a local vgg11_bn state-dict file used instead of downloading. ``linear_output``
    drops the sigmoid the original put on AE28, AE28_W and AE224 (autoencoders only).
    """
    factory = network_class(name)
    kwargs: dict[str, Any] = {"bias": bias}
    if issubclass(factory, AENet):
        kwargs["linear_output"] = linear_output
    elif linear_output:
        raise ValueError(f"`linear_output` applies to autoencoders only, got linear_output=True for {name!r}; drop it")
    if takes_pretrained(name):
        kwargs.update(pretrained=pretrained, weights=weights)
    elif weights is not None:
        takers = [n for n in sorted(NETWORKS) if takes_pretrained(n)]
        raise ValueError(
            f"network {name!r} takes no pretrained weights, got weights={os.fspath(weights)!r}; "
            f"drop --weights or use one of {', '.join(takers)}"
        )
    net: nn.Module = factory(**kwargs)
    return net


def describe_networks() -> list[dict[str, Any]]:
    """One row per FCDD network: input shape, output map size, receptive field, and pretraining.

    Builds every net on the meta device (shapes, no memory, no initialisation), so nothing is
    downloaded and listing is quick.
    """
    import torch

    rows = []
    for name in list_networks(FCDDNet):
        with torch.device("meta"):
            net = cast(FCDDNet, build_network(name, pretrained=False))
        rf = net.receptive_field
        rows.append(
            {
                "name": name,
                "input_shape": net.input_shape,
                "output_size": rf.output_size,
                "receptive_field": rf.extent,
                "jump": rf.jump,
                "start": rf.start,
                "pretrained": takes_pretrained(name),
            }
        )
    return rows
