"""The report section "Can the search be trusted?": each search trial's validation AUC against its test AUC.

Reads ``search/val_vs_test.csv`` that ``fcdd tune`` writes once its search is over (:mod:`tune.selection`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tune.outdir import VAL_VS_TEST_FILE
from tune.report import figures
from tune.report.context import ReportContext
from tune.report.html import Block, Image, Paragraph, Section, Table
from tune.report.sections.cells import compact
from tune.report.sections.study import search_summary


def search_trust_section(ctx: ReportContext) -> Section | None:
    """Spearman per class and a scatter plot per class (``val_vs_test_class_<c>.png``); None without a search."""
    from tune.collect import val_test_agreement

    selection = ctx.results_dir.parent / "search" / VAL_VS_TEST_FILE
    if ctx.study is None or not selection.is_file():
        return None
    frame = pd.read_csv(selection)
    agreement = val_test_agreement(frame)
    choices = sorted({str(v) for v in frame["validation_anomalies"].dropna()})
    if "validation_source" in frame.columns:
        sources = sorted({str(v).split(":")[0] for v in frame["validation_source"].dropna()})
        choices = [f"{c} (resolved: {', '.join(sources)})" if c == "auto" and sources else c for c in choices]
    blocks: list[Block] = [
        Paragraph(
            "Each search trial's validation AUC (the only number the search saw) against its test AUC, measured "
            "once the search was over; a trial stopped early is scored from its last checkpoint. A high rank "
            "correlation means the validation split orders settings as the test split does. Validation "
            f"anomalies: {'; '.join(choices) or 'unknown'}."
        )
    ]
    rows = [[str(r.normal_class), str(r.n_trials), compact(r.spearman), compact(r.p)] for r in agreement.itertuples()]
    blocks.append(Table(["search class", "trials", "Spearman ρ (val, test)", "p"], rows))
    blocks += _scatter_plots(ctx, frame, search_summary(ctx).get("trial_id"))
    return Section("Can the search be trusted?", blocks)


def _scatter_plots(ctx: ReportContext, frame: pd.DataFrame, picked_trial: str | None) -> list[Block]:
    """Per search class: validation against test AUC of every trial, the picked trial starred."""
    blocks: list[Block] = []
    for normal_class, group in frame.dropna(subset=["val_auc", "test_auc"]).groupby("normal_class", sort=True):
        points = [(float(r.val_auc), float(r.test_auc), str(r.status)) for r in group.itertuples()]
        best = _picked(group, picked_trial)
        picked = (float(best["val_auc"]), float(best["test_auc"])) if best is not None else None
        name = f"val_vs_test_class_{int(normal_class)}.png"
        figure = figures.val_vs_test(points, picked, f"search class {int(normal_class)}")
        ctx.files.figure(f"val_vs_test:{int(normal_class)}", name, figure)
        blocks.append(Image(name, f"class {int(normal_class)}: validation vs test AUC per search trial"))
    return blocks


def _picked(group: pd.DataFrame, picked_trial: str | None) -> Any:
    """The search's own pick (a two-objective search's Pareto point), else the highest validation AUC."""
    if picked_trial is not None:
        chosen = group[group["trial_id"] == picked_trial]
        return chosen.iloc[0] if len(chosen) else None
    complete = group[group["status"] == "ok"]
    return complete.loc[complete["val_auc"].idxmax()] if len(complete) else None
