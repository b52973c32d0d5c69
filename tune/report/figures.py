"""Report figures: ROC per class (seeds + mean ± std band), mean ROC of all classes, search plots.

Figures are built as :class:`matplotlib.figure.Figure` objects drawn by the Agg canvas, never
through ``pyplot``: there is no global figure registry, so nothing leaks between reports and no
display backend is touched, even when the driver runs on a machine with one. Each function
returns its Figure; :func:`png` renders one (``ReportFiles.figure`` writes it).

Every figure reads the same at 5 trials and at 1,000: no legend holds more than
:data:`MAX_LEGEND` entries. Seeds beyond :data:`LABELLED_SEEDS` are drawn thin, in one colour,
unlabelled; classes beyond :data:`MAX_LEGEND` in one plot keep colour and label for the lowest and
highest few only.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

DPI = 100
MAX_LEGEND = 10  # entries in any one legend
LABELLED_SEEDS = 5  # more seeds than this: thin unlabelled curves, one legend for the figure
SEED_COLOUR = "tab:blue"  # the seeds' curves where there are too many to tell apart


@dataclass
class ClassCurves:
    """ROC curves of one class in one setting: one per ok seed, and their mean on a common grid."""

    normal_class: int
    class_name: str
    seeds: list[int] = field(default_factory=list)
    curves: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    aucs: list[float] = field(default_factory=list)
    grid: np.ndarray | None = None
    mean_tpr: np.ndarray | None = None
    std_tpr: np.ndarray | None = None

    @property
    def label(self) -> str:
        return f"{self.normal_class}: {self.class_name}" if self.class_name else str(self.normal_class)

    @property
    def auc_text(self) -> str:
        if not self.aucs:
            return "no runs"
        std = float(np.std(self.aucs, ddof=1)) if len(self.aucs) > 1 else 0.0
        return f"AUC {np.mean(self.aucs):.3f} ± {std:.3f} (n={len(self.aucs)})"


def png(figure: Figure) -> bytes:
    """``figure`` as PNG bytes (the figure is cleared after).

    A figure with a layout engine (constrained layout) already fills its canvas; only the others are
    cropped to their content, which costs a second draw (a second of a 1,000-curve figure).
    """
    FigureCanvasAgg(figure)  # attaches the Agg canvas; savefig then renders without pyplot
    buffer = io.BytesIO()
    crop = "tight" if figure.get_layout_engine() is None else None
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches=crop)
    figure.clear()
    return buffer.getvalue()


def _roc_axes(axes, title: str, *, small: bool) -> None:
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.set_xlabel("false positive rate", fontsize=8 if small else 10)
    axes.set_ylabel("true positive rate", fontsize=8 if small else 10)
    axes.set_title(title, fontsize=9 if small else 11)
    axes.tick_params(labelsize=7 if small else 9)
    axes.set_aspect("equal")
    axes.grid(alpha=0.3)


def roc_by_class(classes: list[ClassCurves], title: str) -> Figure:
    """A grid of subplots, one per class: each seed's ROC thin, the mean bold with a ±std band.

    Up to :data:`LABELLED_SEEDS` seeds per class: each seed coloured, a legend in each subplot. More:
    every seed thin in one colour and one legend for the whole figure (seed curve, band, mean), so
    the legends never grow with the seeds; the AUC and the number of seeds are in each title.
    """
    columns = min(5, max(1, len(classes)))
    rows = max(1, math.ceil(len(classes) / columns))
    figure = Figure(figsize=(3.0 * columns, 3.1 * rows + 0.4), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    many = max((len(item.curves) for item in classes), default=0) > LABELLED_SEEDS
    for index, axes in enumerate(grid.flat):
        if index >= len(classes):
            axes.set_visible(False)
            continue
        item = classes[index]
        _seed_curves(axes, item, many=many)
        if item.mean_tpr is not None and item.std_tpr is not None:
            upper = np.clip(item.mean_tpr + item.std_tpr, 0, 1)
            lower = np.clip(item.mean_tpr - item.std_tpr, 0, 1)
            axes.fill_between(item.grid, lower, upper, color="black", alpha=0.2, linewidth=0, label="± std")
            axes.plot(item.grid, item.mean_tpr, color="black", linewidth=1.8, label="mean")
            if not many:
                axes.legend(loc="lower right", fontsize=6)
        else:
            axes.text(0.5, 0.5, "no successful run", ha="center", va="center", fontsize=9)
        _roc_axes(axes, f"{item.label}\n{item.auc_text}", small=True)
    if many:
        handles = [Line2D([], [], color=SEED_COLOUR, linewidth=1, alpha=0.6), Patch(color="black", alpha=0.2),
                   Line2D([], [], color="black", linewidth=1.8)]  # fmt: skip
        labels = ["each seed's ROC (seeds per class: n in the titles)", "± std over seeds", "mean over seeds"]
        figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    figure.suptitle(title, fontsize=12)
    return figure


def _seed_curves(axes, item: ClassCurves, *, many: bool) -> None:
    """Each seed's curve: coloured and labelled while there are few, else thin and light, unlabelled."""
    if not many:
        for seed, (fpr, tpr) in zip(item.seeds, item.curves, strict=True):
            axes.plot(fpr, tpr, linewidth=0.7, alpha=0.6, label=f"seed {seed}")
        return
    # One collection, not a line per seed: drawn in a fraction of the time.
    lines = [np.column_stack([fpr, tpr]) for fpr, tpr in item.curves]
    axes.add_collection(LineCollection(lines, linewidths=0.4, colors=SEED_COLOUR, alpha=0.15))


def roc_summary(classes: list[ClassCurves], title: str) -> Figure:
    """The mean ROC curve of every class in one plot; legend "class name (AUC mean)".

    Beyond :data:`MAX_LEGEND` classes only the lowest and highest few by mean AUC keep a colour and
    an entry; the others are drawn thin and grey behind one entry.
    """
    figure = Figure(figsize=(6.5, 6.0), layout="constrained")
    axes = figure.subplots()
    drawn: list[tuple[ClassCurves, np.ndarray, np.ndarray]] = []
    for item in classes:
        if item.grid is not None and item.mean_tpr is not None:
            drawn.append((item, item.grid, item.mean_tpr))
    labelled = _labelled_classes([float(np.mean(item.aucs)) for item, _, _ in drawn])
    colours = iter(_colours(len(labelled)))
    others = [index for index in range(len(drawn)) if index not in labelled]
    for index in others:  # first, so the coloured curves lie on top; one legend entry for them all
        _, grid, mean_tpr = drawn[index]
        label = f"{len(others)} other classes" if index == others[0] else None
        axes.plot(grid, mean_tpr, color="grey", linewidth=0.6, alpha=0.5, label=label)
    for index in sorted(labelled):
        item, grid, mean_tpr = drawn[index]
        axes.plot(grid, mean_tpr, color=next(colours), linewidth=1.5,
                  label=f"{item.class_name or item.normal_class} ({np.mean(item.aucs):.3f})")  # fmt: skip
    _roc_axes(axes, title, small=False)
    handles, labels = axes.get_legend_handles_labels()
    if handles:
        if others:  # the shared entry last
            handles, labels = handles[1:] + handles[:1], labels[1:] + labels[:1]
        axes.legend(handles, labels, loc="lower right", fontsize=8, title="class (mean AUC)", title_fontsize=8)
    return figure


def _labelled_classes(aucs: list[float]) -> set[int]:
    """The classes (by position) that keep colour and legend entry: all up to :data:`MAX_LEGEND`, else
    the few with the lowest and the highest mean AUC.
    """
    if len(aucs) <= MAX_LEGEND:
        return set(range(len(aucs)))
    order = sorted(range(len(aucs)), key=lambda index: aucs[index])
    keep = (MAX_LEGEND - 1) // 2  # the others share one entry
    return {*order[:keep], *order[-keep:]}


def _colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def search_history(
    numbers: list[int], values: list[float | None], states: list[str], *, maximize: bool, objective: str
) -> Figure:
    """Objective value per trial number (completed: dots, pruned: crosses) and the best-so-far line."""
    figure = Figure(figsize=(7.0, 4.0), layout="constrained")
    axes = figure.subplots()
    styles = {"COMPLETE": ("o", "tab:blue", "completed"), "PRUNED": ("x", "tab:orange", "pruned")}
    for state, (marker, colour, label) in styles.items():
        points = [(n, v) for n, v, s in zip(numbers, values, states, strict=True) if s == state and v is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.scatter(xs, ys, marker=marker, color=colour, label=label, s=28, zorder=3)
    trials = zip(numbers, values, states, strict=True)
    complete = sorted((n, v) for n, v, s in trials if s == "COMPLETE" and v is not None)
    if complete:
        steps = [n for n, _ in complete]
        best = list((np.maximum if maximize else np.minimum).accumulate([v for _, v in complete]))
        if max(numbers) > steps[-1]:  # carry the best value on to the last trial, pruned ones included
            steps, best = [*steps, max(numbers)], [*best, best[-1]]
        axes.step(steps, best, where="post", color="tab:red", linewidth=1.5, label="best so far", zorder=2)
    axes.set_xlabel("trial number")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(objective)
    axes.set_title(f"search history ({'maximise' if maximize else 'minimise'} {objective})")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8)
    return figure


def param_importances(importances: dict[str, float]) -> Figure:
    """Horizontal bars of hyperparameter importances, largest on top."""
    names = list(importances)[::-1]
    figure = Figure(figsize=(6.5, 0.9 + 0.45 * len(names)), layout="constrained")
    axes = figure.subplots()
    axes.barh(names, [importances[n] for n in names], color="tab:blue")
    for y, name in enumerate(names):
        axes.text(importances[name], y, f" {importances[name]:.2f}", va="center", fontsize=8)
    axes.set_xlabel("importance (fANOVA, normalised)")
    axes.set_title("hyperparameter importances (completed trials)")
    axes.set_xlim(0, max(1.0, max(importances.values()) * 1.15))
    return figure


def critical_difference_diagram(mean_ranks, nemenyi_p, critical_difference: float, alpha: float) -> Figure:
    """Critical-difference diagram (scikit-posthocs): mean ranks on an axis, 1 = best; a bar joins
    settings whose Nemenyi test does not tell them apart at ``alpha``.

    ``mean_ranks`` is a pandas Series by setting, ``nemenyi_p`` the setting × setting p-values.
    """
    import scikit_posthocs as sp

    labels = {setting: str(setting) for setting in mean_ranks.index}
    ranks = mean_ranks.rename(index=labels)
    p_values = nemenyi_p.rename(index=labels, columns=labels)
    figure = Figure(figsize=(6.4, 0.9 + 0.3 * len(ranks)))
    axes = figure.add_subplot()
    sp.critical_difference_diagram(ranks, p_values, alpha=alpha, ax=axes)
    axes.set_title(f"mean rank over classes (1 = best); CD = {critical_difference:.2f} at α = {alpha:g}", fontsize=9)
    return figure


def val_vs_test(points: list[tuple[float, float, str]], picked: tuple[float, float] | None, title: str) -> Figure:
    """Validation AUC (x) against test AUC (y) per search trial; ``status`` "pruned" drawn hollow; the picked star."""
    figure = Figure(figsize=(4.8, 4.4))
    axes = figure.add_subplot()
    for status, face in (("ok", "tab:blue"), ("pruned", "none")):
        chosen = [(x, y) for x, y, s in points if s == status]
        if chosen:
            xs, ys = zip(*chosen, strict=True)
            label = "ran to the end" if status == "ok" else "stopped early (test AUC from its checkpoint)"
            axes.scatter(xs, ys, marker="o", facecolors=face, edgecolors="tab:blue", label=label, s=28)
    if picked is not None:
        axes.scatter([picked[0]], [picked[1]], marker="*", s=160, color="tab:red", label="picked", zorder=3)
    values = [v for x, y, _ in points for v in (x, y)] + (list(picked) if picked else [])
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max((high - low) * 0.08, 0.01)
    axes.plot([low - pad, high + pad], [low - pad, high + pad], linestyle=":", color="grey", linewidth=1)
    axes.set_xlim(low - pad, high + pad)
    axes.set_ylim(low - pad, high + pad)
    axes.set_xlabel("validation AUC (what the search selected on)")
    axes.set_ylabel("test AUC (measured after the search)")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7, loc="lower right")
    return figure


def pareto(
    points: list[tuple[float, float, bool, bool]],
    names: tuple[str, str],
    directions: tuple[str, str],
    bound: float | None,
) -> Figure:
    """A two-objective search: first objective (y) against second (x) per completed trial.

    ``points`` are (first, second, on_front, picked); the front is joined in order of the second
    objective; ``bound`` draws the limit of a ``within:F`` pick on the second objective.
    """
    figure = Figure(figsize=(5.6, 4.4), layout="constrained")
    axes = figure.add_subplot()
    others = [(x, y) for y, x, front, _ in points if not front]
    if others:
        xs, ys = zip(*others, strict=True)
        axes.scatter(xs, ys, marker="o", color="lightgrey", edgecolors="grey", s=26, label="dominated trial")
    front = sorted((x, y) for y, x, on_front, _ in points if on_front)
    if front:
        xs, ys = zip(*front, strict=True)
        axes.plot(xs, ys, marker="o", color="tab:blue", linewidth=1.2, markersize=6, label="Pareto front", zorder=2)
    picked = [(x, y) for y, x, _, chosen in points if chosen]
    if picked:
        px, py = zip(*picked, strict=True)
        axes.scatter(px, py, marker="*", s=200, color="tab:red", label="picked (rerun)", zorder=3)
    if bound is not None:
        axes.axvline(bound, linestyle="--", color="tab:red", linewidth=1, alpha=0.6, label="within-factor limit")
    better = {"max": "higher is better", "min": "lower is better"}
    axes.set_xlabel(f"{names[1]} ({better[directions[1]]})")
    axes.set_ylabel(f"{names[0]} ({better[directions[0]]})")
    axes.set_title("two-objective search: completed trials and the Pareto front", fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return figure
