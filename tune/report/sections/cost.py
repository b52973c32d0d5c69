"""The report section "Compute cost": trials, attempts, wall time and CPU/GPU hours per setting and class."""

from __future__ import annotations

import pandas as pd

from tune.report.context import ReportContext
from tune.report.html import Paragraph, Section, Table
from tune.report.sections.cells import fmt


def cost_section(ctx: ReportContext) -> Section:
    """The cost table (also written as ``cost_by_class.csv``), the total row of each setting in bold."""
    ctx.files.csv("cost_by_class", "cost_by_class.csv", ctx.cost)
    rows, emphasis = _rows(ctx.cost)
    if not rows:
        return Section("Compute cost", [Paragraph("No trials yet.")])
    headers = ["setting", "class", "name", "trials (attempts)", "wall minutes", "CPU hours", "GPU hours", "images/s",
               "MB per trial"]  # fmt: skip
    note = Paragraph(
        "Wall time sums every attempt of every trial, failed trials and retries included; "
        "CPU and GPU hours are that time times the trial's CPUs and GPUs."
    )
    return Section("Compute cost", [Table(headers, rows, emphasis), note])


def _rows(cost: pd.DataFrame) -> tuple[list[list[str]], set[int]]:
    rows, emphasis = [], set()
    for index, row in enumerate(cost.itertuples(index=False)):
        total = pd.isna(row.normal_class)
        rows.append([str(row.setting), "all" if total else str(row.normal_class), str(row.class_name),
                     f"{row.n_trials} ({row.attempts})", fmt(row.wall_seconds / 60, 1), fmt(row.cpu_hours, 2),
                     fmt(row.gpu_hours, 2), fmt(row.images_per_second, 0), fmt(row.disk_mb_per_trial, 1)])  # fmt: skip
        if total:
            emphasis.add(index)
    return rows, emphasis
