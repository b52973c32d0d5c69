"""Report figures: drawn without pyplot, rendered to PNG bytes, and the per-class curve labels by hand."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from tune.report import figures
from tune.report.figures import ClassCurves

FPR = np.array([0.0, 0.2, 1.0])
TPR = np.array([0.0, 0.7, 1.0])


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return image.size


def _curves(normal_class: int, aucs: list[float]) -> ClassCurves:
    grid = np.linspace(0, 1, 5)
    return ClassCurves(normal_class, "T-shirt", seeds=list(range(len(aucs))), curves=[(FPR, TPR)] * len(aucs),
                       aucs=aucs, grid=grid, mean_tpr=np.interp(grid, FPR, TPR), std_tpr=np.zeros(5))  # fmt: skip


def test_class_labels_and_auc_text() -> None:
    assert _curves(3, [0.8, 0.9]).label == "3: T-shirt"
    assert _curves(3, [0.8, 0.9]).auc_text == f"AUC 0.850 ± {np.std([0.8, 0.9], ddof=1):.3f} (n=2)"
    assert _curves(0, [0.7]).auc_text == "AUC 0.700 ± 0.000 (n=1)"
    assert ClassCurves(1, "").label == "1" and ClassCurves(1, "").auc_text == "no runs"


def test_every_figure_is_a_png_and_pyplot_never_holds_one() -> None:
    before = plt.get_fignums()
    classes = [_curves(0, [0.8, 0.9]), _curves(1, [0.7])]
    drawn = [
        figures.roc_by_class(classes, "ROC per class"),
        figures.roc_summary(classes, "mean ROC"),
        figures.search_history(
            [0, 1, 2], [0.5, None, 0.7], ["COMPLETE", "PRUNED", "COMPLETE"], maximize=True, objective="val_auc"
        ),  # fmt: skip
        figures.param_importances({"optim.lr": 0.7, "optim.batch_size": 0.3}),
        figures.critical_difference_diagram(
            pd.Series({"a": 1.2, "b": 1.8}),
            pd.DataFrame([[1.0, 0.5], [0.5, 1.0]], index=["a", "b"], columns=["a", "b"]),
            1.1,
            0.05,  # fmt: skip
        ),
        figures.val_vs_test([(0.8, 0.75, "COMPLETE"), (0.6, 0.65, "PRUNED")], (0.8, 0.75), "class 0"),
        figures.pareto(
            [(0.9, 10.0, True, True), (0.8, 5.0, True, False), (0.7, 8.0, False, False)],
            ("val_auc", "gpu_seconds"),
            ("max", "min"),
            15.0,
        ),  # fmt: skip
    ]
    pngs = [figures.png(figure) for figure in drawn]
    assert all(min(_size(png)) > 50 for png in pngs)
    assert plt.get_fignums() == before
