"""The method registry: ``objective`` name -> :class:`~fcdd.methods.base.Method`.

Each method (FCDD and its HSC and AE baselines) lives in one module holding its loss, scorer and
heatmap and, for a baseline, its rule for standing in for FCDD (``Method.baseline``: `--baselines`
adds every method that has one, in this order). Adding a method: one module with a ``METHOD``, one
line here. Entries are ``"module:attribute"`` references, imported on first use (see :mod:`fcdd.registry`).
"""

from __future__ import annotations

from fcdd.registry import Entry

METHODS: dict[str, Entry] = {
    "fcdd": "fcdd.methods.fcdd:METHOD",
    "hsc": "fcdd.methods.hsc:METHOD",
    "ae": "fcdd.methods.ae:METHOD",
}
