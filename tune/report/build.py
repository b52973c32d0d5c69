"""The benchmark/search report: tables, ROC figures, heatmap galleries and one self-contained HTML page.

``build_report(results_dir)`` reads ``<results_dir>/trials.jsonl`` (see :mod:`tune.store`) and the
run folders its rows point to, and writes ``<results_dir>/report/``::

    summary_by_class.csv, cost_by_class.csv     tune.collect tables
    roc_by_class.png, roc_summary.png           the best setting (the only one for a plain benchmark)
    roc_by_class_<setting>.png, roc_summary_<setting>.png
                                                with several settings: each of the best `max_settings`
    gallery/class_<c>.png                       heatmaps_test.png of the lowest-seed ok run per class
                                                (from the best setting when it has one)
    critical_difference.png, settings_pairwise.csv, settings_by_class.csv
                                                with two or more settings (tune.ranking)
    search_history.png, param_importances.png, search_trials.csv    when a study is given
    pareto.png                                  a two-objective search: its Pareto front and pick
    report.md                                   Markdown, figures by relative path
    report.html                                 one file: figures embedded as base64, CSS inline

It works on a partial run: classes without any trial are simply absent (and listed when the paper
table says which classes exist), failed trials are listed with their errors, and a run folder that
is gone is reported and skipped. The best setting is the one with the highest overall AUC (mean of
the class means); ties keep the order in which settings first appear in the store.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fcdd.artifacts import write_bytes, write_text
from fcdd.paper import PaperTable
from tune.collect import OVERALL, cost_by_class, mean_roc, roc_from_scores, summary_by_class
from tune.outdir import PARETO_FILE, VAL_VS_TEST_FILE, read_json
from tune.ranking import rank_settings
from tune.report import figures
from tune.report.html import (
    Block,
    Bullets,
    Details,
    Gallery,
    Image,
    Paragraph,
    Section,
    Table,
    render_html,
    render_markdown,
)
from tune.report.ranking import ranking_section
from tune.report.search import pareto_blocks, search_section, selection_section
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
    ``study`` (an ``optuna.Study``) adds the search section; ``gallery_seeds`` limits the gallery to
    the lowest that many seeds per class (None: every seed). Keys of the returned dict: ``summary_by_class``,
    ``cost_by_class``, ``roc_by_class``, ``roc_summary``, ``roc_by_class:<setting>``,
    ``roc_summary:<setting>``, ``gallery:<class>``, ``search_history``, ``param_importances``,
    ``search_trials``, ``markdown`` (report.md), ``html`` (report.html); figures only where there was
    data to draw.
    """
    results_dir = Path(results_dir)
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
    cost = cost_by_class(table)
    written: dict[str, Path] = {
        "summary_by_class": _write_csv(out / "summary_by_class.csv", summary),
        "cost_by_class": _write_csv(out / "cost_by_class.csv", cost),
    }
    notes: list[str] = []
    ranked = _rank_settings(summary)
    shown = ranked[:max_settings]
    sections = [_facts_section(results_dir, table, ranked, notes)]

    roc_blocks: list[Any] = []
    slugs = _slugs(shown)
    for rank, setting in enumerate(shown):
        classes = _class_curves(table[table["setting"] == setting], results_dir, notes)
        label = f"setting {setting}" if len(ranked) > 1 else str(setting)
        by_class = figures.roc_by_class_png(classes, f"ROC per class — {label}")
        overview = figures.roc_summary_png(classes, f"mean ROC per class — {label}")
        if rank == 0:
            written["roc_by_class"] = write_bytes(out / "roc_by_class.png", by_class)
            written["roc_summary"] = write_bytes(out / "roc_summary.png", overview)
        if len(ranked) > 1:
            for kind, data in (("roc_by_class", by_class), ("roc_summary", overview)):
                name = f"{kind}_{slugs[setting]}.png"
                written[f"{kind}:{setting}"] = write_bytes(out / name, data)
        prefix = "" if len(ranked) == 1 else f"_{slugs[setting]}"
        roc_blocks += [
            Image(f"roc_by_class{prefix}.png", f"{label}: each seed's ROC (thin), mean ± std over seeds (black)"),
            Image(f"roc_summary{prefix}.png", f"{label}: the mean ROC curve of every class"),
        ]
    if len(ranked) > len(shown):
        roc_blocks.append(Paragraph(f"ROC figures for the best {len(shown)} of {len(ranked)} settings only."))

    sections.append(_auc_section(summary, ranked, shown))
    if len(ranked) > 1:
        sections.append(_comparison(table, out, written))
    pixels = _pixel_section(summary, ranked, shown)
    if pixels is not None:
        sections.append(pixels)
    if roc_blocks:
        sections.append(Section("ROC curves", roc_blocks))
    best = ranked[0] if ranked else None
    gallery: list[Block] = [*_gallery(table, results_dir, out, best, written, gallery_seeds)]
    sections.append(Section("Test heatmaps", gallery or [Paragraph("No heatmaps_test.png found for any ok run.")]))
    sections.append(_cost_section(cost))
    if study is not None:
        search = search_section(study, out, written, notes)
        sections.append(search)
        # A tune folder's report is of its best/ reruns; the search's own trials lie beside them.
        picked = read_json(results_dir.parent / "best_params.json", "search summary") or {}
        pareto = results_dir.parent / "search" / PARETO_FILE
        if pareto.is_file() and len(picked.get("objectives") or []) > 1:
            search.blocks[1:1] = pareto_blocks(pd.read_csv(pareto), picked, out, written)
        selection = results_dir.parent / "search" / VAL_VS_TEST_FILE
        if selection.is_file():
            sections.append(selection_section(pd.read_csv(selection), out, written, picked.get("trial_id")))
    if notes:
        sections[0].blocks.append(Bullets(notes))

    title = title or f"fcdd report — {results_dir.name}"
    written["markdown"] = write_text(out / "report.md", render_markdown(title, sections))
    page = render_html(title, sections, out)
    written["html"] = write_text(out / "report.html", page)
    logger.info("report written to %s", written["html"])
    return written


def _comparison(table: pd.DataFrame, out: Path, written: dict[str, Path]) -> Section:
    ranking = rank_settings(table)
    if ranking is None:
        return Section(
            "Settings compared over classes",
            [Paragraph("The tests need at least two classes with an ok run of every setting; not yet.")],
        )
    written["settings_pairwise"] = _write_csv(out / "settings_pairwise.csv", ranking.pairwise)
    written["settings_by_class"] = write_text(out / "settings_by_class.csv", ranking.matrix.to_csv(float_format="%.6f"))
    return ranking_section(ranking, out, written)


def _write_csv(path: Path, frame: pd.DataFrame) -> Path:
    text = frame.to_csv(index=False, float_format="%.6f")
    return write_text(path, text)


def _rank_settings(summary: pd.DataFrame) -> list[Any]:
    overall = summary[summary["class_name"] == OVERALL]
    order = np.argsort(-overall["auc_mean"].fillna(-np.inf).to_numpy(), kind="stable")
    return [overall["setting"].iloc[i] for i in order]


def _slugs(settings: list[Any]) -> dict[Any, str]:
    slugs: dict[Any, str] = {}
    for setting in settings:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(setting)).strip("._") or "setting"
        while slug in slugs.values():  # two names that differ only in odd characters
            slug += "_"
        slugs[setting] = slug
    return slugs


def _locate_run(run_dir: Any, results_dir: Path) -> Path | None:
    """The run folder, also when the results folder was copied elsewhere after the run."""
    if not isinstance(run_dir, str) or not run_dir:
        return None
    path = Path(run_dir)
    if path.is_dir():
        return path
    parts = path.parts[1:] if path.is_absolute() else path.parts
    for start in range(len(parts)):  # longest trailing part of the recorded path first
        candidate = results_dir.joinpath(*parts[start:])
        if candidate.is_dir():
            return candidate
    return None


def _class_curves(rows: pd.DataFrame, results_dir: Path, notes: list[str]) -> list[figures.ClassCurves]:
    classes = []
    for normal_class, group in rows.groupby("normal_class", sort=True):
        names = group["class_name"].dropna()
        item = figures.ClassCurves(int(normal_class), str(names.iloc[0]) if len(names) else "")
        for row in group[group["status"] == "ok"].sort_values("seed").itertuples(index=False):
            run = _locate_run(row.run_dir, results_dir)
            scores_file = run / "scores.npz" if run is not None else None
            if scores_file is None or not scores_file.is_file():
                notes.append(f"trial {row.trial_id}: no scores.npz under {row.run_dir}; left out of the ROC figures")
                continue
            try:
                with np.load(scores_file) as data:
                    fpr, tpr, auc = roc_from_scores(data["score"], data["label"])
            except (KeyError, ValueError, OSError) as error:
                notes.append(f"trial {row.trial_id}: unreadable {scores_file} ({error}); left out of the ROC figures")
                continue
            item.seeds.append(int(row.seed))
            item.curves.append((fpr, tpr))
            item.aucs.append(auc)
        if item.curves:
            item.grid, item.mean_tpr, item.std_tpr = mean_roc(item.curves)
        classes.append(item)
    return classes


def _gallery(
    table: pd.DataFrame, results_dir: Path, out: Path, best: Any, written: dict[str, Path], seeds: int | None
) -> list[Gallery]:
    """The test heatmaps of every ok run of the best setting (the lowest ``seeds`` seeds per class, if given)."""
    ok = table[(table["status"] == "ok") & (table["setting"] == best)].sort_values(["normal_class", "seed"])
    images = []
    for normal_class, group in ok.groupby("normal_class", sort=True):
        for row in group.head(seeds if seeds is not None else len(group)).itertuples(index=False):
            run = _locate_run(row.run_dir, results_dir)
            source = run / "heatmaps_test.png" if run is not None else None
            if source is None or not source.is_file():
                continue
            name = f"gallery/class_{int(normal_class)}_seed_{int(row.seed)}.png"
            written[f"gallery:{int(normal_class)}:{int(row.seed)}"] = write_bytes(out / name, source.read_bytes())
            caption = f"class {int(normal_class)} ({row.class_name}): setting {row.setting}, seed {row.seed}"
            images.append(Image(name, caption))
    return [Gallery(images)] if images else []


def _fmt(value: Any, digits: int = 3) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _pm(mean: Any, std: Any) -> str:
    return "—" if pd.isna(mean) else f"{mean:.3f} ± {0.0 if pd.isna(std) else std:.3f}"


def _plan(results_dir: Path) -> dict[str, Any]:
    """The plan in ``benchmark.json`` ({} without one)."""
    import json

    try:
        plan = json.loads((results_dir / "benchmark.json").read_text())
    except (OSError, ValueError):
        return {}
    return plan if isinstance(plan, dict) else {}


def _planned_classes(results_dir: Path) -> list[int] | None:
    """The classes the plan names (None without a plan)."""
    try:
        return [int(c) for c in _plan(results_dir)["classes"]]
    except (KeyError, TypeError, ValueError):
        return None


def _facts_section(results_dir: Path, table: pd.DataFrame, ranked: list[Any], notes: list[str]) -> Section:
    ok, failed = table[table["status"] == "ok"], table[table["status"] != "ok"]
    versions = []
    for key in ("fcdd_version", "torch_version", "ray_version"):
        values = sorted({str(v) for v in table[key].dropna()})
        if values:
            versions.append(f"{key.removesuffix('_version')} {', '.join(values)}")
    facts = [
        f"results folder: {results_dir.resolve()}",
        f"report generated {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"trials: {len(table)} ({len(ok)} ok, {len(failed)} failed) over {len(ranked)} setting(s), "
        f"{table['normal_class'].nunique()} class(es), {table['seed'].nunique()} seed(s)",
        f"datasets: {', '.join(sorted({str(d) for d in table['dataset'].dropna()})) or '—'}",
    ]
    if versions:
        facts.append("versions: " + "; ".join(versions))
    if table["started_at"].notna().any():
        facts.append(f"first trial started {table['started_at'].dropna().min()}, "
                     f"last finished {table['finished_at'].dropna().max()}")  # fmt: skip
    notes.extend(str(n) for n in _plan(results_dir).get("notes") or [])
    planned = _planned_classes(results_dir)
    for setting in ranked if planned else ():
        present = set(table.loc[table["setting"] == setting, "normal_class"].dropna().astype(int))
        missing = [c for c in planned or () if c not in present]
        if missing:
            notes.append(f"setting {setting}: no trials yet for planned classes {missing}")
    blocks: list[Any] = [Bullets(facts)]
    if len(failed):
        rows = []
        for row in failed.sort_values(["setting", "normal_class", "seed"]).itertuples(index=False):
            message = str(row.error or "").strip().splitlines()
            rows.append([row.trial_id, str(row.setting), str(row.normal_class), str(row.seed), str(row.attempts),
                         (message[-1] if message else "")[:200]])  # fmt: skip
        blocks += [
            Paragraph("Failed trials (last line of the error):"),
            Table(["trial", "setting", "class", "seed", "attempts", "error"], rows),
            Details("full error messages", "\n\n".join(f"[{r.trial_id}]\n{r.error}" for r in failed.itertuples())),
        ]
    return Section("Run", blocks)


def _auc_section(summary: pd.DataFrame, ranked: list[Any], shown: list[Any]) -> Section:
    blocks: list[Any] = []
    if not ranked:
        return Section("Sample AUC", [Paragraph("No trials in the store yet.")])
    if len(ranked) > 1:
        overall = summary[summary["class_name"] == OVERALL].set_index("setting")
        rows = []
        for rank, setting in enumerate(ranked, start=1):
            stats = overall.loc[setting]
            rows.append([str(rank), str(setting), _pm(stats["auc_mean"], stats["auc_std"]), str(stats["n_seeds"]),
                         str(stats["n_failed"])])  # fmt: skip
        blocks += [
            Paragraph("Settings by overall AUC (mean of the class means ± std of the class means):"),
            Table(["rank", "setting", "overall AUC", "ok runs", "failed"], rows, {0}),
        ]
    paper = bool("paper_auc" in summary.columns and summary["paper_auc"].notna().any())
    headers = ["class", "name", "AUC mean ± std", "seeds", "failed"]
    if "max_score_auc_mean" in summary.columns:
        headers.append("max-score AUC")
    headers += ["paper", "Δ"] * paper

    def cells(row: Any) -> list[str]:
        values = [_pm(row.auc_mean, row.auc_std), str(row.n_seeds), str(row.n_failed)]
        if "max_score_auc_mean" in summary.columns:
            values.append(_pm(row.max_score_auc_mean, row.max_score_auc_std))
        return values + (_paper_cells(row.auc_mean, row.paper_auc) if paper else [])

    blocks += _setting_tables(summary, ranked, shown, headers, cells, paper)
    blocks.append(Paragraph("Std is the sample std over seeds; the overall row is the mean ± std of the class means."))
    return Section("Sample AUC", blocks)


def _paper_cells(mean: float, paper_value: float) -> list[str]:
    delta = mean - paper_value
    return [_fmt(paper_value, 2), "—" if pd.isna(delta) else f"{delta:+.3f}"]


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


_PIXEL_COLUMNS = (
    ("pixel AUC", "pixel_auc"),
    ("AUPRO@0.3", "pixel_aupro"),
    ("constant-map pixel AUC", "constant_pixel_auc"),
    ("constant-map AUPRO", "constant_pixel_aupro"),
    ("z-score pixel AUC", "zscore_pixel_auc"),
    ("z-score AUPRO", "zscore_pixel_aupro"),
)


def _pixel_section(summary: pd.DataFrame, ranked: list[Any], shown: list[Any]) -> Section | None:
    """Pixel AUC and AUPRO of the method beside its floors (constant map, z-score); None without masks."""
    columns = [(label, key) for label, key in _PIXEL_COLUMNS if f"{key}_mean" in summary.columns]
    if not columns or not ranked:
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
        values = [_pm(getattr(row, f"{key}_mean"), getattr(row, f"{key}_std")) for _, key in columns]
        return values + (_paper_cells(getattr(row, "pixel_auc_mean", np.nan), row.paper_pixel_auc) if paper else [])

    blocks += _setting_tables(summary, ranked, shown, headers, cells, paper)
    return Section("Pixel metrics", blocks)


def _setting_tables(
    summary: pd.DataFrame,
    ranked: list[Any],
    shown: list[Any],
    headers: list[str],
    cells: Any,
    paper: bool,
) -> list[Block]:
    """One table per shown setting: class and name, then ``cells(row)``; the overall row in bold."""
    blocks: list[Block] = []
    for setting in shown:
        part = summary[summary["setting"] == setting]
        rows, emphasis = [], set()
        for index, row in enumerate(part.itertuples(index=False)):
            first = ["all" if row.class_name == OVERALL else str(row.normal_class), str(row.class_name)]
            rows.append(first + cells(row))
            if row.class_name == OVERALL:
                emphasis.add(index)
        if len(ranked) > 1:
            blocks.append(Paragraph(f"Setting {setting}:"))
        blocks.append(Table(headers, rows, emphasis))
        if paper:
            blocks.append(_budget_note(part))
    return blocks


def _cost_section(cost: pd.DataFrame) -> Section:
    rows, emphasis = [], set()
    for index, row in enumerate(cost.itertuples(index=False)):
        total = pd.isna(row.normal_class)
        rows.append([str(row.setting), "all" if total else str(row.normal_class), str(row.class_name),
                     f"{row.n_trials} ({row.attempts})", _fmt(row.wall_seconds / 60, 1), _fmt(row.cpu_hours, 2),
                     _fmt(row.gpu_hours, 2), _fmt(row.images_per_second, 0)])  # fmt: skip
        if total:
            emphasis.add(index)
    headers = ["setting", "class", "name", "trials (attempts)", "wall minutes", "CPU hours", "GPU hours", "images/s"]
    if not rows:
        return Section("Compute cost", [Paragraph("No trials yet.")])
    note = Paragraph(
        "Wall time sums every attempt of every trial, failed trials and retries included; "
        "CPU and GPU hours are that time times the trial's CPUs and GPUs."
    )
    return Section("Compute cost", [Table(headers, rows, emphasis), note])
