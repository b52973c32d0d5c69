"""The report section "ROC curves": per shown setting, every class's seeds and mean, and all classes' means."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fcdd.engine.roc import sample_roc
from tune.collect import mean_roc
from tune.report import figures
from tune.report.context import ReportContext
from tune.report.html import Block, Image, Paragraph, Section
from tune.report.sections.cells import setting_slugs

_COLUMNS = ["normal_class", "class_name", "status", "seed", "run_dir", "trial_id"]  # a slim frame: fast to walk


def roc_section(ctx: ReportContext) -> Section | None:
    """``roc_by_class.png`` and ``roc_summary.png`` of the best setting; with several settings also
    ``roc_by_class_<setting>.png`` and ``roc_summary_<setting>.png`` for each shown one. None without trials.
    """
    several = len(ctx.ranked) > 1
    slugs = setting_slugs(ctx.shown)
    blocks: list[Block] = []
    for rank, setting in enumerate(ctx.shown):
        classes = _class_curves(ctx, ctx.table.loc[ctx.table["setting"] == setting, _COLUMNS])
        label = f"setting {setting}" if several else str(setting)
        by_class = figures.png(figures.roc_by_class(classes, f"ROC per class — {label}"))
        overview = figures.png(figures.roc_summary(classes, f"mean ROC per class — {label}"))
        if rank == 0:
            ctx.files.png("roc_by_class", "roc_by_class.png", by_class)
            ctx.files.png("roc_summary", "roc_summary.png", overview)
        if several:
            ctx.files.png(f"roc_by_class:{setting}", f"roc_by_class_{slugs[setting]}.png", by_class)
            ctx.files.png(f"roc_summary:{setting}", f"roc_summary_{slugs[setting]}.png", overview)
        prefix = f"_{slugs[setting]}" if several else ""
        blocks += [
            Image(f"roc_by_class{prefix}.png", f"{label}: each seed's ROC (thin), mean ± std over seeds (black)"),
            Image(f"roc_summary{prefix}.png", f"{label}: the mean ROC curve of every class"),
        ]
    if len(ctx.ranked) > len(ctx.shown):
        blocks.append(Paragraph(f"ROC figures for the best {len(ctx.shown)} of {len(ctx.ranked)} settings only."))
    return Section("ROC curves", blocks) if blocks else None


def _class_curves(ctx: ReportContext, rows: pd.DataFrame) -> list[figures.ClassCurves]:
    """Each class's ROC curves from its ok runs' ``scores.npz``; a missing or unreadable file is a note."""
    classes = []
    for normal_class, group in rows.groupby("normal_class", sort=True):
        names = group["class_name"].dropna()
        item = figures.ClassCurves(int(normal_class), str(names.iloc[0]) if len(names) else "")
        for row in group[group["status"] == "ok"].sort_values("seed").itertuples(index=False):
            curve = _curve(ctx, row)
            if curve is not None:
                fpr, tpr, auc = curve
                item.seeds.append(int(row.seed))
                item.curves.append((fpr, tpr))
                item.aucs.append(auc)
        if item.curves:
            item.grid, item.mean_tpr, item.std_tpr = mean_roc(item.curves)
        classes.append(item)
    return classes


def _curve(ctx: ReportContext, row: Any) -> tuple[np.ndarray, np.ndarray, float] | None:
    run = ctx.run_folder(row.run_dir)
    scores_file = run / "scores.npz" if run is not None else None
    if scores_file is None or not scores_file.is_file():
        ctx.note(f"trial {row.trial_id}: no scores.npz under {row.run_dir}; left out of the ROC figures")
        return None
    try:
        with np.load(scores_file) as data:
            roc = sample_roc(data["score"], data["label"])
        return roc.fpr, roc.tpr, roc.auc
    except (KeyError, ValueError, OSError) as error:
        ctx.note(f"trial {row.trial_id}: unreadable {scores_file} ({error}); left out of the ROC figures")
        return None
