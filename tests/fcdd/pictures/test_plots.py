"""The run's matplotlib figures: ROC curves with the chance line, the loss per epoch on a log scale."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from fcdd.pictures.plots import loss_figure, roc_figure


def test_roc_figure_has_one_line_per_curve_and_the_diagonal() -> None:
    curve = (np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.8, 1.0]))
    figure = roc_figure([(*curve, "class 0"), (*curve, "class 1")], "ROC")
    axes = figure.axes[0]
    assert [line.get_label() for line in axes.get_legend().get_lines()] == ["class 0", "class 1"]
    assert len(axes.lines) == 3 and list(axes.lines[-1].get_xdata()) == [0, 1]
    assert axes.get_title() == "ROC" and axes.get_xlim() == (0, 1)
    plt.close(figure)


def test_loss_figure_plots_three_losses_per_epoch_on_a_log_scale() -> None:
    history = [{"epoch": e, "loss": 1.0 / e, "loss_nominal": 0.5 / e, "loss_anomalous": 2.0 / e} for e in (1, 2, 3)]
    figure = loss_figure(history)
    axes = figure.axes[0]
    assert [line.get_label() for line in axes.lines] == ["loss", "loss nominal", "loss anomalous"]
    assert list(axes.lines[2].get_ydata()) == [2.0, 1.0, 2.0 / 3] and axes.get_yscale() == "log"
    plt.close(figure)
