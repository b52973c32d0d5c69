"""The report sections "Sample AUC" and "Pixel metrics": one table per shown setting, the paper beside it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tune.collect import OVERALL
from tune.report.context import ReportContext
from tune.report.html import Block, Paragraph, Section, Table
from tune.report.sections.cells import fmt, pm

_PIXEL_COLUMNS = (
    ("pixel AUC", "pixel_auc"),
    ("AUPRO@0.3", "pixel_aupro"),
    ("constant-map pixel AUC", "constant_pixel_auc"),
    ("constant-map AUPRO", "constant_pixel_aupro"),
    ("z-score pixel AUC", "zscore_pixel_auc"),
    ("z-score AUPRO", "zscore_pixel_aupro"),
)


def sample_auc_section(ctx: ReportContext) -> Section:
    """The settings by overall AUC, then each shown setting's AUC per class (``summary_by_class.csv``)."""
    summary = ctx.summary
    ctx.files.csv("summary_by_class", "summary_by_class.csv", summary)
    if not ctx.ranked:
        return Section("Sample AUC", [Paragraph("No trials in the store yet.")])
    blocks: list[Block] = _ranking_table(summary, ctx.ranked) if len(ctx.ranked) > 1 else []
    paper = bool("paper_auc" in summary.columns and summary["paper_auc"].notna().any())
    max_score = "max_score_auc_mean" in summary.columns
    headers = ["class", "name", "AUC mean ± std", "seeds", "failed"]
    headers += ["max-score AUC"] * max_score + ["paper", "Δ"] * paper

    def cells(row: Any) -> list[str]:
        values = [pm(row.auc_mean, row.auc_std), str(row.n_seeds), str(row.n_failed)]
        if max_score:
            values.append(pm(row.max_score_auc_mean, row.max_score_auc_std))
        return values + (_paper_cells(row.auc_mean, row.paper_auc) if paper else [])

    blocks += _setting_tables(ctx, headers, cells, paper)
    blocks.append(Paragraph("Std is the sample std over seeds; the overall row is the mean ± std of the class means."))
    return Section("Sample AUC", blocks)


def pixel_section(ctx: ReportContext) -> Section | None:
    """Pixel AUC and AUPRO of the method beside its floors (constant map, z-score); None without masks."""
    summary = ctx.summary
    columns = [(label, key) for label, key in _PIXEL_COLUMNS if f"{key}_mean" in summary.columns]
    if not columns or not ctx.ranked:
        return None
    paper = bool("paper_pixel_auc" in summary.columns and summary["paper_pixel_auc"].notna().any())
    headers = ["class", "name", *(label for label, _ in columns)] + ["paper pixel AUC", "Δ"] * paper
    blocks: list[Block] = [
        Paragraph(
            "The floors show what a pixel metric is worth here: a constant low-resolution map upsampled like the "
            "method's maps (the receptive-field upsampling alone favours the image centre), and a per-pixel "
            "z-score against the nominal training images. A method near its floors has learnt little about "
            "where the defects are."
        )
    ]

    def cells(row: Any) -> list[str]:
        values = [pm(getattr(row, f"{key}_mean"), getattr(row, f"{key}_std")) for _, key in columns]
        return values + (_paper_cells(getattr(row, "pixel_auc_mean", np.nan), row.paper_pixel_auc) if paper else [])

    blocks += _setting_tables(ctx, headers, cells, paper)
    return Section("Pixel metrics", blocks)


def _ranking_table(summary: pd.DataFrame, ranked: list[Any]) -> list[Block]:
    overall = summary[summary["class_name"] == OVERALL].set_index("setting")
    rows = []
    for rank, setting in enumerate(ranked, start=1):
        stats = overall.loc[setting]
        rows.append([str(rank), str(setting), pm(stats["auc_mean"], stats["auc_std"]), str(stats["n_seeds"]),
                     str(stats["n_failed"])])  # fmt: skip
    return [
        Paragraph("Settings by overall AUC (mean of the class means ± std of the class means):"),
        Table(["rank", "setting", "overall AUC", "ok runs", "failed"], rows, {0}),
    ]


def _paper_cells(mean: float, paper_value: float) -> list[str]:
    delta = mean - paper_value
    return [fmt(paper_value, 2), "—" if pd.isna(delta) else f"{delta:+.3f}"]


def _budget_note(part: pd.DataFrame) -> Paragraph:
    """The run's budget beside the paper's, wherever a Δ is shown."""
    overall = part[part["class_name"] == OVERALL].iloc[0]
    classes = part[part["class_name"] != OVERALL]
    epochs = f"{overall['epochs']:.0f}" if pd.notna(overall["epochs"]) else "?"
    seeds = int(classes["n_seeds"].max()) if len(classes) else 0
    paper_epochs, paper_seeds = overall.get("paper_epochs"), overall.get("paper_seeds")
    if pd.isna(paper_epochs):
        return Paragraph(f"Budget of this run: {epochs} epochs × {seeds} seed(s) per class.")
    text = (
        f"Budget: this run {epochs} epochs × {seeds} seed(s) per class; the paper {paper_epochs:.0f} epochs × "
        f"{paper_seeds:.0f} seeds."
    )
    if epochs == "?" or float(epochs) < paper_epochs or seeds < paper_seeds:
        text += " The Δ compares unlike budgets: at this budget it says little about the method."
    return Paragraph(text)


def _setting_tables(
    ctx: ReportContext, headers: list[str], cells: Callable[[Any], list[str]], paper: bool
) -> list[Block]:
    """One table per shown setting: class and name, then ``cells(row)``; the overall row in bold."""
    blocks: list[Block] = []
    for setting in ctx.shown:
        part = ctx.summary[ctx.summary["setting"] == setting]
        rows, emphasis = [], set()
        for index, row in enumerate(part.itertuples(index=False)):
            first = ["all" if row.class_name == OVERALL else str(row.normal_class), str(row.class_name)]
            rows.append(first + cells(row))
            if row.class_name == OVERALL:
                emphasis.add(index)
        if len(ctx.ranked) > 1:
            blocks.append(Paragraph(f"Setting {setting}:"))
        blocks.append(Table(headers, rows, emphasis))
        if paper:
            blocks.append(_budget_note(part))
    return blocks
