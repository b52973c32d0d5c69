"""Matplotlib plots of a run: ROC curves and the training loss (figures in, nothing written)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def roc_figure(curves: list[tuple[np.ndarray, np.ndarray, str]], title: str) -> Figure:
    """A ROC plot of (fpr, tpr, legend label) curves with the chance diagonal."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    for fpr, tpr, label in curves:
        axes.plot(fpr, tpr, label=label, linewidth=1.5)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01))
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(alpha=0.3)
    return figure


def loss_figure(history: list[dict[str, Any]]) -> Figure:
    """Per-epoch training loss (overall, nominal, anomalous)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 3.2))
    epochs = [h["epoch"] for h in history]
    for key in ("loss", "loss_nominal", "loss_anomalous"):
        axes.plot(epochs, [h[key] for h in history], marker=".", label=key.replace("_", " "))
    axes.set(xlabel="epoch", ylabel="loss", yscale="log", title="training loss")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    return figure
