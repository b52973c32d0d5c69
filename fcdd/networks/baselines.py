"""Baseline networks (HSC and AE): their registry, and which baseline goes with which FCDD net.

``BASELINE_OF`` is the one table from an FCDD net to its HSC and AE baselines. The original kept
two hand-synced dicts whose FCDD_CNN224_VGG_F key was misspelt, so the MVTec default had no
baselines (reference §9.1 item 6); a test here checks that every FCDD net is covered.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from typing import Literal

from torch import nn

from fcdd.networks.autoencoders import (
    AE28,
    AE28_W,
    AE32,
    AE32_LW3K,
    AE224,
    AE224_VGG,
    AE224_VGG_F,
    AE224_VGG_NOPT,
    AENet,
)
from fcdd.networks.hsc import (
    CNN28,
    CNN28_W,
    CNN32,
    CNN32_LW3K,
    CNN224,
    CNN224_VGG,
    CNN224_VGG_F,
    CNN224_VGG_NOPT,
    CNN224_VGG_NOPT_1000,
    HSCNet,
)
from fcdd.networks.receptive_field import FCDDNet
from fcdd.networks.registry import NETWORKS

__all__ = [
    "BASELINE_NETWORKS",
    "BASELINE_OF",
    "Objective",
    "baselines_for",
    "build_baseline_network",
    "list_baseline_networks",
    "objective_of",
]

Objective = Literal["fcdd", "hsc", "ae"]

# Constructors take keyword `bias`; AEs also `linear_output`; those with
# `takes_pretrained_weights` also `pretrained` and `weights`.
BASELINE_NETWORKS: dict[str, Callable[..., nn.Module]] = {
    "CNN28": CNN28,
    "CNN28_W": CNN28_W,
    "CNN32": CNN32,
    "CNN32_LW3K": CNN32_LW3K,
    "CNN224": CNN224,
    "CNN224_VGG": CNN224_VGG,
    "CNN224_VGG_F": CNN224_VGG_F,
    "CNN224_VGG_NOPT": CNN224_VGG_NOPT,
    "CNN224_VGG_NOPT_1000": CNN224_VGG_NOPT_1000,
    "AE28": AE28,
    "AE28_W": AE28_W,
    "AE32": AE32,
    "AE32_LW3K": AE32_LW3K,
    "AE224": AE224,
    "AE224_VGG": AE224_VGG,
    "AE224_VGG_F": AE224_VGG_F,
    "AE224_VGG_NOPT": AE224_VGG_NOPT,
}

# FCDD net → (HSC net, AE net), the original's pairs (§3.3) with its typo fixed. Choices kept from
# the original for comparability with the paper: FCDD_CNN28_W gets the narrow AE28 (AE28_W exists
# and can be picked by name), FCDD_CNN224_W the narrow CNN224/AE224, and FCDD_CNN224_VGG_NOPT the
# full-classifier CNN224_VGG_NOPT_1000. FCDD_CNN32, absent from the original table, maps like
# FCDD_CNN32_S: CNN32 is the only 5×5 32×32 HSC net, and its 5×5 convs match FCDD_CNN32's.
BASELINE_OF: dict[str, tuple[str, str]] = {
    "FCDD_CNN28": ("CNN28", "AE28"),
    "FCDD_CNN28_W": ("CNN28_W", "AE28"),
    "FCDD_CNN32": ("CNN32", "AE32"),
    "FCDD_CNN32_S": ("CNN32", "AE32"),
    "FCDD_CNN32_LW3K": ("CNN32_LW3K", "AE32_LW3K"),
    "FCDD_CNN224": ("CNN224", "AE224"),
    "FCDD_CNN224_W": ("CNN224", "AE224"),
    "FCDD_CNN224_VGG": ("CNN224_VGG", "AE224_VGG"),
    "FCDD_CNN224_VGG_NOPT": ("CNN224_VGG_NOPT_1000", "AE224_VGG_NOPT"),
    "FCDD_CNN224_VGG_F": ("CNN224_VGG_F", "AE224_VGG_F"),
}


def list_baseline_networks() -> list[str]:
    """Sorted names of all registered baseline (HSC and AE) networks."""
    return sorted(BASELINE_NETWORKS)


def _unknown(kind: str, name: str, known: Mapping[str, object]) -> ValueError:
    # Compare upper-cased so "cnn28_w" still finds CNN28_W.
    close = difflib.get_close_matches(name.upper(), list(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}, choose one of {sorted(known)}{hint}")


def _takes_pretrained(name: str) -> bool:
    return bool(getattr(BASELINE_NETWORKS[name], "takes_pretrained_weights", False))


def build_baseline_network(
    name: str,
    *,
    bias: bool = True,
    pretrained: bool = True,
    weights: str | os.PathLike | None = None,
    linear_output: bool = False,
) -> nn.Module:
    """Build baseline network ``name`` (an :class:`HSCNet` or an :class:`AENet`).

    ``bias`` sets conv/linear biases and BatchNorm affine parameters (VGG nets require True).
    ``pretrained`` matters only for nets that start from ImageNet weights; ``weights`` is a local
    vgg11_bn state-dict file used instead of downloading. ``linear_output`` drops the sigmoid the
    original put on AE28, AE28_W and AE224 (AEs only; see :mod:`fcdd.networks.autoencoders`).
    """
    if name not in BASELINE_NETWORKS:
        raise _unknown("baseline network", name, BASELINE_NETWORKS)
    factory = BASELINE_NETWORKS[name]
    kwargs: dict[str, object] = {"bias": bias}
    is_ae = isinstance(factory, type) and issubclass(factory, AENet)
    if is_ae:
        kwargs["linear_output"] = linear_output
    elif linear_output:
        raise ValueError(f"`linear_output` applies to AE nets only, got linear_output=True for {name!r}; drop it")
    if _takes_pretrained(name):
        kwargs.update(pretrained=pretrained, weights=weights)
    elif weights is not None:
        takers = [n for n in list_baseline_networks() if _takes_pretrained(n)]
        raise ValueError(
            f"network {name!r} takes no pretrained weights, got weights={os.fspath(weights)!r}; "
            f"drop --weights or use one of {takers}"
        )
    return factory(**kwargs)


def baselines_for(fcdd_name: str) -> tuple[str, str]:
    """(HSC net, AE net) names of the baselines for FCDD net ``fcdd_name``."""
    if fcdd_name not in BASELINE_OF:
        raise _unknown("FCDD network", fcdd_name, BASELINE_OF)
    return BASELINE_OF[fcdd_name]


def objective_of(net: nn.Module | str) -> Objective:
    """The objective a network needs: "fcdd" for FCDD nets, "hsc" for HSC nets, "ae" for AEs.

    ``net`` is a built network or a registered name (FCDD or baseline).
    """
    if isinstance(net, str):
        if net in NETWORKS:
            return "fcdd"
        if net not in BASELINE_NETWORKS:
            raise _unknown("network", net, {**NETWORKS, **BASELINE_NETWORKS})
        factory = BASELINE_NETWORKS[net]
        return "ae" if isinstance(factory, type) and issubclass(factory, AENet) else "hsc"
    if isinstance(net, FCDDNet):
        return "fcdd"
    if isinstance(net, HSCNet):
        return "hsc"
    if isinstance(net, AENet):
        return "ae"
    raise ValueError(
        f"no objective fits a {type(net).__name__}; build the net with fcdd.networks.build_network "
        "(objective fcdd) or build_baseline_network (hsc, ae)"
    )
