"""The dataset registry: name -> the dataset module's :class:`~fcdd.data.base.DatasetLoader`.

Adding a dataset family: write its module (``load``, ``classes``, ``RECIPES`` and a ``LOADER``)
and add one line here; for stored normalisation constants, a block in ``constants.json``.
Entries are ``"module:attribute"`` references, imported on first use (see :mod:`fcdd.registry`).
"""

from __future__ import annotations

from fcdd.registry import Entry

DATASETS: dict[str, Entry] = {
    "fmnist": "fcdd.data.fmnist:LOADER",
    "cifar10": "fcdd.data.cifar:LOADER",
    "custom": "fcdd.data.folder:LOADER",
    "mvtec": "fcdd.data.mvtec:LOADER",
    "imagenet": "fcdd.data.imagenet:LOADER",
    "pascalvoc": "fcdd.data.voc:LOADER",
}
