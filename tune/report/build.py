"""The benchmark/search report: tables, ROC figures, heatmap galleries and an HTML page with pages behind it.

``build_report(results_dir)`` reads ``<results_dir>/trials.jsonl`` (see :mod:`tune.store`) and the
run folders its rows point to, and writes ``<results_dir>/report/``::

    summary_by_class.csv, cost_by_class.csv     tune.collect tables
    roc_by_class.png, roc_summary.png           the best setting (the only one for a plain benchmark)
    roc_by_class_<setting>.png, roc_summary_<setting>.png
                                                with several settings: each of the best `max_settings`
    gallery/class_<c>_seed_<s>.png              heatmaps_test.png of each ok run of the best setting
    classes/<setting>_class_<c>.html            a page per class: every seed's heatmaps, AUC and error
    failed_trials.txt                           with many failed trials: every one with its full error
    critical_difference.png, settings_pairwise.csv, settings_by_class.csv
                                                with two or more settings (tune.significance)
    search_history.png, param_importances.png, search_trials.csv    when a study is given
    pareto.png                                  a two-objective search: its Pareto front and pick
    val_vs_test_class_<c>.png                   a `fcdd tune` search: validation against test AUC
    report.md                                   Markdown, figures by relative path
    report.html                                 the first page: summary first, per class only the
                                                heatmaps a reader needs (`gallery_seeds`), the rest
                                                one click away; images are files referenced by
                                                relative path and lazy-loaded, never inlined, so the
                                                page stays small at any scale and the folder can be
                                                zipped and opened elsewhere

Each part of the page is a section of :data:`tune.report.sections.SECTIONS`, walked in order with
one :class:`~tune.report.context.ReportContext`. It works on a partial run: classes without any
trial are simply absent (and listed when the plan says which classes exist), failed trials are
listed with their errors, and a run folder that is gone is reported and skipped. The best setting
is the one with the highest overall AUC (mean of the class means); ties keep the order in which
settings first appear in the store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fcdd.paper import PaperTable
from tune.collect import OVERALL, cost_by_class, summary_by_class
from tune.report import sections
from tune.report.context import ReportContext, ReportFiles
from tune.report.html import Bullets, Section, render_html, render_markdown
from tune.store import ResultsStore

logger = logging.getLogger(__name__)

REPORT_DIR = "report"


def build_report(
    results_dir: str | Path,
    *,
    paper: Sequence[PaperTable] | None = None,
    study: Any = None,
    title: str | None = None,
    max_settings: int = 6,
    gallery_seeds: int | None = None,
) -> dict[str, Path]:
    """Write the report of ``results_dir`` into ``<results_dir>/report/`` and return what was written.

    ``paper`` (``fcdd.paper.PAPER``) adds the paper's per-class values with their budget;
    ``study`` (an ``optuna.Study``) adds the search section; ``gallery_seeds``: heatmaps per class on
    the first page, spread over the AUC order (None: the lowest, median and highest; see
    :func:`tune.report.sections.gallery.shown_per_class`). Keys of the returned dict: ``summary_by_class``,
    ``cost_by_class``, ``roc_by_class``, ``roc_summary``, ``roc_by_class:<setting>``,
    ``roc_summary:<setting>``, ``gallery:<class>:<seed>``, ``class_page:<class>``, ``failed_trials``,
    ``settings_pairwise``, ``settings_by_class``,
    ``critical_difference``, ``search_history``, ``param_importances``, ``search_trials``, ``pareto``,
    ``val_vs_test:<class>``, ``markdown`` (report.md), ``html`` (report.html); figures only where there
    was data to draw.
    """
    ctx = _context(Path(results_dir), paper, study, max_settings, gallery_seeds)
    parts = [part for _, section in sections.SECTIONS if (part := section(ctx)) is not None]
    if ctx.notes and parts:
        parts[0].blocks.append(Bullets(ctx.notes))
    return _write_pages(ctx, title or f"fcdd report — {ctx.results_dir.name}", parts)


def _context(
    results_dir: Path,
    paper: Sequence[PaperTable] | None,
    study: Any,
    max_settings: int,
    gallery_seeds: int | None,
) -> ReportContext:
    """The results of ``results_dir`` read once, and an empty report folder to write into."""
    store = ResultsStore(results_dir)
    if not store.path.is_file():
        raise FileNotFoundError(
            f"no results store {store.path}; pass the folder a benchmark or search wrote its trials.jsonl into"
        )
    if max_settings < 1:
        raise ValueError(f"`max_settings` must be >= 1, got max_settings={max_settings!r}")
    out = results_dir / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    table = store.table()
    summary = summary_by_class(table, paper)
    return ReportContext(
        results_dir=results_dir,
        table=table,
        summary=summary,
        cost=cost_by_class(table),
        ranked=rank_settings(summary),
        files=ReportFiles(out),
        paper=paper,
        study=study,
        max_settings=max_settings,
        gallery_seeds=gallery_seeds,
    )


def _write_pages(ctx: ReportContext, title: str, parts: list[Section]) -> dict[str, Path]:
    """``report.md`` and ``report.html``; every file written, by role."""
    ctx.files.text("markdown", "report.md", render_markdown(title, parts))
    html = ctx.files.text("html", "report.html", render_html(title, parts, ctx.out))
    logger.info("report written to %s", html)
    return ctx.files.written


def rank_settings(summary: pd.DataFrame) -> list[Any]:
    """Every setting, the highest overall AUC first; ties keep the store's order."""
    overall = summary[summary["class_name"] == OVERALL]
    order = np.argsort(-overall["auc_mean"].fillna(-np.inf).to_numpy(), kind="stable")
    return [overall["setting"].iloc[i] for i in order]
