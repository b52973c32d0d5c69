"""The suite report: every benchmark of a suite beside the paper's table for it, on one page.

``build_suite_report(out, info)`` reads each benchmark's results store (``<out>/<folder>/``, the
folders ``suite.json`` lists as ``info``) and writes ``<out>/report/``::

    report.html, report.md          the page: an overview with one row per benchmark, then per benchmark
                                    its best setting's AUC per class beside the paper's (and the pixel
                                    metrics where it has masks), each with its budget against the
                                    paper's, a link to its own report; the benchmarks it could not run
    suite_summary.csv               the overview's numbers: per benchmark its best setting's overall AUC and
                                    pixel AUC, the paper's, its budget and the paper's
    <benchmark>/summary_by_class.csv   each benchmark's summary (tune.collect), the paper's values beside

The tables are the benchmark report's own sections (:func:`~tune.report.sections.metrics.sample_auc_section`,
:func:`~tune.report.sections.metrics.pixel_section`) on each benchmark's results, so the suite shows
each number exactly as the benchmark's report does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from fcdd.paper import PAPER, PaperTable, paper_table, variant_of
from tune.collect import OVERALL, cost_by_class, summary_by_class
from tune.outdir import STORE_FILE
from tune.report.build import REPORT_DIR, rank_settings
from tune.report.context import ReportContext, ReportFiles
from tune.report.html import Bullets, Link, Paragraph, Section, Table, render_html, render_markdown
from tune.report.sections.cells import fmt, pm
from tune.report.sections.metrics import pixel_section, sample_auc_section
from tune.store import ResultsStore

log = logging.getLogger(__name__)

_OVERVIEW = ["benchmark", "dataset", "paper's table", "setting", "ok runs", "failed", "AUC", "paper AUC", "Δ AUC",
             "pixel AUC", "paper pixel AUC", "Δ pixel AUC", "budget (paper's)"]  # fmt: skip


def build_suite_report(out: Path, info: dict[str, Any], *, title: str | None = None) -> dict[str, Path]:
    """Write the report of the suite in ``out`` (``info``: its ``suite.json``) to ``<out>/report/``.

    Returns the files written by role: ``markdown``, ``html``, ``suite_summary``, and
    ``<benchmark>:summary_by_class`` for each benchmark with results.
    """
    folder = out / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(folder)
    rows: list[dict[str, Any]] = []
    parts: list[Section] = []
    waiting: list[str] = []
    written: dict[str, Path] = {}
    for bench in info.get("benchmarks") or []:
        results = out / bench["folder"]
        if not (results / STORE_FILE).is_file():
            waiting.append(f"{bench['name']} ({bench['dataset']}): no finished trial yet")
            continue
        ctx = _context(results, ReportFiles(folder / bench["folder"]))
        rows.append(_overview_row(bench["name"], ctx))
        parts += _benchmark_sections(bench, ctx)
        written.update({f"{bench['name']}:{role}": path for role, path in ctx.files.written.items()})
    parts.insert(0, _overview(rows, info, waiting))
    files.csv("suite_summary", "suite_summary.csv", pd.DataFrame.from_records(rows))
    title = title or f"fcdd suite {info.get('name', out.name)}"
    files.text("markdown", "report.md", render_markdown(title, parts))
    page = files.text("html", "report.html", render_html(title, parts, folder))
    log.info("suite report written to %s", page)
    return {**written, **files.written}


def _context(results: Path, files: ReportFiles) -> ReportContext:
    """One benchmark's results as its own report reads them, the paper's values beside; its best setting shown."""
    table = ResultsStore(results).table()
    summary = summary_by_class(table, PAPER)
    return ReportContext(
        results_dir=results,
        table=table,
        summary=summary,
        cost=cost_by_class(table),
        ranked=rank_settings(summary),
        files=files,
        paper=PAPER,
        max_settings=1,
    )


def _overview(rows: list[dict[str, Any]], info: dict[str, Any], waiting: list[str]) -> Section:
    """The first section: one row per benchmark, the budget caveat, what is missing."""
    blocks: list[Any] = [
        Paragraph(
            "One row per benchmark: its best setting's overall AUC (mean of the class means) and pixel AUC "
            "beside the paper's for the same classes. Δ compares unlike budgets where a benchmark trained fewer "
            "epochs or seeds than the paper: at such a budget it says little about the method."
        ),
        Table(_OVERVIEW, [_overview_cells(row) for row in rows]),
    ]
    missing = info.get("missing") or []
    if missing:
        blocks += [
            Paragraph("Not run: the data of these benchmarks was not found (--skip-missing):"),
            Bullets([f"{m['name']} ({m['dataset']}): {m['reason']}" for m in missing]),
        ]
    if waiting:
        blocks += [Paragraph("No results yet:"), Bullets(waiting)]
    return Section("Benchmarks", blocks)


def _paper_of(ctx: ReportContext, setting: Any) -> tuple[PaperTable | None, PaperTable | None]:
    """The paper's sample-AUC and pixel-AUC columns a setting compares with (MVTec: by its supervision)."""
    rows = ctx.table[ctx.table["setting"] == setting]

    def first(column: str) -> Any:
        values = rows[column].dropna() if column in rows else pd.Series(dtype=object)
        return values.iloc[0] if len(values) else None

    dataset = first("dataset")
    variant = variant_of(first("config.anomalies.supervise_mode"), first("config.anomalies.noise_mode"))
    return paper_table(dataset, "auc", variant), paper_table(dataset, "pixel_auc", variant)


def _overview_row(name: str, ctx: ReportContext) -> dict[str, Any]:
    """A benchmark's row of ``suite_summary.csv``: its best setting's overall numbers, the paper's, both budgets."""
    setting = ctx.ranked[0]
    part = ctx.summary[ctx.summary["setting"] == setting]
    overall = part[part["class_name"] == OVERALL].iloc[0]
    classes = part[part["class_name"] != OVERALL]
    auc, pixel = _paper_of(ctx, setting)
    return {
        "benchmark": name,
        "dataset": overall["dataset"],
        "paper_table": "; ".join(t.source for t in (auc, pixel) if t is not None),
        "setting": setting,
        "n_ok": int(overall["n_seeds"]),
        "n_failed": int(overall["n_failed"]),
        "auc_mean": overall["auc_mean"],
        "auc_std": overall["auc_std"],
        "paper_auc": overall["paper_auc"],
        "pixel_auc_mean": overall.get("pixel_auc_mean", float("nan")),
        "paper_pixel_auc": overall["paper_pixel_auc"],
        "epochs": overall["epochs"],
        "seeds": int(classes["n_seeds"].max()) if len(classes) else 0,  # per class
        "paper_epochs": overall["paper_epochs"],
        "paper_seeds": overall["paper_seeds"],
    }


def _overview_cells(row: dict[str, Any]) -> list[str]:
    """A row of the overview table on the page (:data:`_OVERVIEW`)."""
    budget = f"{fmt(row['epochs'], 0)} epoch(s) × {row['seeds']} seed(s)"
    if pd.notna(row["paper_epochs"]):
        budget += f" ({row['paper_epochs']:.0f} × {row['paper_seeds']:.0f})"
    return [
        str(row["benchmark"]), str(row["dataset"]), row["paper_table"] or "—", str(row["setting"]),
        str(row["n_ok"]), str(row["n_failed"]), pm(row["auc_mean"], row["auc_std"]), fmt(row["paper_auc"], 2),
        _delta(row["auc_mean"], row["paper_auc"]), fmt(row["pixel_auc_mean"]), fmt(row["paper_pixel_auc"], 2),
        _delta(row["pixel_auc_mean"], row["paper_pixel_auc"]), budget,
    ]  # fmt: skip


def _delta(value: float, paper: float) -> str:
    delta = value - paper
    return "—" if pd.isna(delta) else f"{delta:+.3f}"


def _benchmark_sections(bench: dict[str, Any], ctx: ReportContext) -> list[Section]:
    """A benchmark's heading, the paper's table it compares with, its link, then its metric tables."""
    auc, pixel = _paper_of(ctx, ctx.ranked[0])
    sources = [t.source for t in (auc, pixel) if t is not None]
    compared = f"Compared with the paper's {' and '.join(sources)}." if sources else "The paper has no table for it."
    settings = f" Best of {len(ctx.ranked)} settings: {ctx.ranked[0]}." if len(ctx.ranked) > 1 else ""
    head = Section(
        f"{bench['name']} ({bench['dataset']})",
        [Paragraph(compared + settings), Link("its own report", f"../{bench['folder']}/report/report.html",
                                               lead="Every setting, ROC curves, heatmaps and cost:")],
    )  # fmt: skip
    sections = [head]
    for section in (sample_auc_section(ctx), pixel_section(ctx)):
        if section is not None:
            section.level = 3
            sections.append(section)
    return sections
