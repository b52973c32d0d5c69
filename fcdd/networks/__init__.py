"""FCDD networks: fully convolutional nets that map images to (B, 1, h, w) score maps.

Use :func:`build_network` with a name from :func:`list_networks`; every net carries its
:class:`ReceptiveField` (output size, extent, jump, start), which the heatmap upsampling needs.
The HSC and AE baselines (:func:`build_baseline_network`, :func:`baselines_for`) live alongside.
"""

from __future__ import annotations

from fcdd.networks.autoencoders import AENet
from fcdd.networks.baselines import (
    BASELINE_NETWORKS,
    BASELINE_OF,
    baselines_for,
    build_baseline_network,
    list_baseline_networks,
    objective_of,
)
from fcdd.networks.hsc import HSCNet
from fcdd.networks.receptive_field import FCDDNet, LayerBuilder, ReceptiveField, covering_cells
from fcdd.networks.registry import NETWORKS, build_network, describe_networks, list_networks

__all__ = [
    "BASELINE_NETWORKS",
    "BASELINE_OF",
    "NETWORKS",
    "AENet",
    "FCDDNet",
    "HSCNet",
    "LayerBuilder",
    "ReceptiveField",
    "baselines_for",
    "build_baseline_network",
    "build_network",
    "covering_cells",
    "describe_networks",
    "list_baseline_networks",
    "list_networks",
    "objective_of",
]
