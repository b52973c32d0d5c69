"""The dataset registry: name -> the dataset module's :class:`~fcdd.data.base.DatasetLoader`.

Adding a dataset family: write its module (``load``, ``classes``, ``RECIPES`` and a ``LOADER``)
and add one line here; for stored normalisation constants, a block in ``constants.json``.
Entries are ``"module:attribute"`` references, imported on first use (see :mod:`fcdd.registry`).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from typing import Any

from fcdd import registry
from fcdd.registry import Entry

DATASETS: dict[str, Entry] = {
    "fmnist": "fcdd.data.fmnist:LOADER",
    "cifar10": "fcdd.data.cifar:LOADER",
    "custom": "fcdd.data.folder:LOADER",
    "mvtec": "fcdd.data.mvtec:LOADER",
    "imagenet": "fcdd.data.imagenet:LOADER",
    "pascalvoc": "fcdd.data.voc:LOADER",
}


def preprocessing_names(name: str) -> tuple[str, ...]:
    """The preprocessing names of dataset ``name``, its default first, without importing its module.

    A dataset already imported answers from its loader's recipes. Otherwise the names are the keys
    of the ``RECIPES`` dict in its module's source (read, not run: the modules import torch, and
    help texts must not); a convention test checks they are the loader's. Empty where the module
    has no such literal.
    """
    entry = DATASETS[name]
    module = entry.partition(":")[0] if isinstance(entry, str) else None
    if module is None or module in sys.modules:
        loader: Any = registry.load(entry)  # a DatasetLoader; its type lives with torch
        return tuple(loader.recipes)
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ()
    return literal_keys(Path(spec.origin), "RECIPES")


def literal_keys(path: Path, variable: str) -> tuple[str, ...]:
    """The string keys of the dict literal assigned to module-level ``variable`` in the source ``path``."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        value: ast.expr | None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == variable and isinstance(value, ast.Dict):
            return tuple(k.value for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
    return ()
