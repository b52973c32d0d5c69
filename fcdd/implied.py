"""The method's rules for a change of settings: what it implies beyond the fields it names.

:meth:`fcdd.config.RunConfig.update` applies them, and the command line goes through it, so the
same changes give the same config from Python and from ``fcdd train``. The rules read and write
the dotted-key form (:meth:`~fcdd.config.RunConfig.to_flat`): several layers of changes can be
applied before the one validation at the end.
"""

from __future__ import annotations

from typing import Any

from fcdd.anomalies.registry import OE_FOLDER_SOURCES
from fcdd.networks.registry import NETWORKS

__all__ = ["fitted_input", "implied"]


def implied(changes: dict[str, Any], flat: dict[str, Any]) -> dict[str, Any]:
    """``changes`` (dotted keys) plus the settings they imply on the config ``flat``.

    A ``data.dataset`` other than the config's resets the preprocessing to that dataset's default
    (the config's may not exist for it). ``anomalies.oe_folder`` without a noise mode means
    "outlier exposure from that folder": noise mode ``folder`` and supervise mode ``noise``, unless
    the config's noise mode already reads the folder (``imagenet``, ``imagenet22k``, ``emnist`` take
    it as their root). A setting named in ``changes`` is never overridden.
    """
    out = dict(changes)
    if out.get("data.dataset", flat["data.dataset"]) != flat["data.dataset"] and "data.preprocessing" not in out:
        out["data.preprocessing"] = None
    if out.get("anomalies.oe_folder") and "anomalies.noise_mode" not in out:
        if flat["anomalies.noise_mode"] not in OE_FOLDER_SOURCES:
            out["anomalies.noise_mode"] = "folder"
        if "anomalies.supervise_mode" not in out and flat["anomalies.supervise_mode"] != "noise":
            out["anomalies.supervise_mode"] = "noise"
    return out


def fitted_input(flat: dict[str, Any]) -> dict[str, Any]:
    """What fits a custom folder without ``image_size`` to its network: its input side, greyscale for a 1-channel net.

    Known instead of refused: the default 224 would only fail against a 28² or 32² network after
    every image was decoded at that size. Nothing for other datasets, an explicit size, or a
    network name the config will refuse anyway.
    """
    name = flat["network.name"]
    if flat["data.dataset"] != "custom" or flat["data.image_size"] is not None:
        return {}
    if not isinstance(name, str) or name not in NETWORKS:
        return {}
    from fcdd.networks.build import network_input_shape  # builds on the meta device: torch, on first use only

    channels, side, _ = network_input_shape(name)
    changes: dict[str, Any] = {"data.image_size": side}
    if flat["data.channels"] is None and channels == 1:
        changes["data.channels"] = 1
    return changes
