"""FCDD networks: fully convolutional nets that map images to (B, 1, h, w) score maps.

Use :func:`build_network` with a name from :func:`list_networks`; every net carries its
:class:`ReceptiveField` (output size, extent, jump, start), which the heatmap upsampling needs.
"""

from __future__ import annotations

from fcdd.networks.receptive_field import FCDDNet, LayerBuilder, ReceptiveField, covering_cells
from fcdd.networks.registry import NETWORKS, build_network, describe_networks, list_networks

__all__ = [
    "NETWORKS",
    "FCDDNet",
    "LayerBuilder",
    "ReceptiveField",
    "build_network",
    "covering_cells",
    "describe_networks",
    "list_networks",
]
