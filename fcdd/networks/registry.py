"""Registry of FCDD networks: names → constructors, plus lookup and introspection helpers."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from typing import Any

from fcdd.networks.cnn28 import FCDD_CNN28, FCDD_CNN28_W
from fcdd.networks.cnn32 import FCDD_CNN32, FCDD_CNN32_LW3K, FCDD_CNN32_S
from fcdd.networks.cnn224 import FCDD_CNN224, FCDD_CNN224_W
from fcdd.networks.receptive_field import FCDDNet
from fcdd.networks.vgg import FCDD_CNN224_VGG, FCDD_CNN224_VGG_F, FCDD_CNN224_VGG_NOPT

__all__ = ["NETWORKS", "build_network", "describe_networks", "list_networks"]

# Constructors take keyword `bias`; those with `takes_pretrained_weights` also take
# `pretrained` and `weights`.
NETWORKS: dict[str, Callable[..., FCDDNet]] = {
    "FCDD_CNN28": FCDD_CNN28,
    "FCDD_CNN28_W": FCDD_CNN28_W,
    "FCDD_CNN32": FCDD_CNN32,
    "FCDD_CNN32_S": FCDD_CNN32_S,
    "FCDD_CNN32_LW3K": FCDD_CNN32_LW3K,
    "FCDD_CNN224": FCDD_CNN224,
    "FCDD_CNN224_W": FCDD_CNN224_W,
    "FCDD_CNN224_VGG": FCDD_CNN224_VGG,
    "FCDD_CNN224_VGG_NOPT": FCDD_CNN224_VGG_NOPT,
    "FCDD_CNN224_VGG_F": FCDD_CNN224_VGG_F,
}


def list_networks() -> list[str]:
    """Sorted names of all registered networks."""
    return sorted(NETWORKS)


def _takes_pretrained(name: str) -> bool:
    return bool(getattr(NETWORKS[name], "takes_pretrained_weights", False))


def _lookup(name: str) -> Callable[..., FCDDNet]:
    try:
        return NETWORKS[name]
    except KeyError:
        # Compare upper-cased so "fcdd_cnn28_w" still finds FCDD_CNN28_W.
        close = difflib.get_close_matches(name.upper(), NETWORKS, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown network {name!r}, choose one of {list_networks()}{hint}") from None


def build_network(
    name: str,
    *,
    bias: bool = True,
    pretrained: bool = True,
    weights: str | os.PathLike | None = None,
) -> FCDDNet:
    """Build network ``name``.

    ``bias`` sets conv biases and BatchNorm affine parameters (VGG nets require True).
    ``pretrained`` matters only for nets that start from ImageNet weights (it is ignored by the
    others); ``weights`` is a local vgg11_bn state-dict file used instead of downloading.
    """
    factory = _lookup(name)
    if _takes_pretrained(name):
        return factory(bias=bias, pretrained=pretrained, weights=weights)
    if weights is not None:
        takers = [n for n in list_networks() if _takes_pretrained(n)]
        raise ValueError(
            f"network {name!r} takes no pretrained weights, got weights={os.fspath(weights)!r}; "
            f"drop --weights or use one of {takers}"
        )
    return factory(bias=bias)


def describe_networks() -> list[dict[str, Any]]:
    """One row per network: input shape, output map size, receptive field, and pretraining.

    Builds every net with random weights (``pretrained=False``), so nothing is downloaded.
    """
    rows = []
    for name in list_networks():
        net = build_network(name, pretrained=False)
        rf = net.receptive_field
        rows.append(
            {
                "name": name,
                "input_shape": net.input_shape,
                "output_size": rf.output_size,
                "receptive_field": rf.extent,
                "jump": rf.jump,
                "start": rf.start,
                "pretrained": _takes_pretrained(name),
            }
        )
    return rows
