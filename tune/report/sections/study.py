"""The report section "Search": history plot, parameter importances, the table of trials, the Pareto front.

Reads an ``optuna.Study`` (any storage; only its trials are read). Optuna itself is imported only
for the importance evaluator, so a report without a study never loads it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tune.outdir import PARETO_FILE, read_json
from tune.report import figures
from tune.report.context import ReportContext
from tune.report.html import Block, Image, Link, Paragraph, Section, Table
from tune.report.sections.cells import compact
from tune.ties import describe_ties

TABLE_TRIALS = 50  # trials in the table of the page; more: the best BEST_TRIALS and a link to the CSV
BEST_TRIALS = 20


def trials_frame(study: Any) -> pd.DataFrame:
    """One row per trial: number, state, value (first objective), then one column per parameter."""
    records = []
    for trial in study.get_trials(deepcopy=False):
        values = trial.values
        records.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                # Pruned trials carry no value; their last intermediate value shows where they stopped.
                "value": values[0] if values else _last_intermediate(trial),
                **{f"params.{k}": v for k, v in trial.params.items()},
            }
        )
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return pd.DataFrame(columns=["number", "state", "value"])
    params = sorted(c for c in frame.columns if c.startswith("params."))
    return frame[["number", "state", "value", *params]].sort_values("number", ignore_index=True)


def _last_intermediate(trial: Any) -> float | None:
    steps = trial.intermediate_values
    return float(steps[max(steps)]) if steps else None


def _importances(study: Any, n_complete: int, n_params: int) -> tuple[dict[str, float] | None, str]:
    if n_complete < 2 or n_params < 2:
        return None, (
            f"Parameter importances need at least 2 completed trials and 2 parameters; "
            f"this study has {n_complete} completed trial(s) and {n_params} parameter(s)."
        )
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    target = (lambda t: t.values[0]) if len(study.directions) > 1 else None
    try:
        importances = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0), target=target)
    except (ValueError, RuntimeError) as error:  # e.g. every completed trial used the same parameter values
        return None, f"Parameter importances could not be computed: {error}"
    return importances, "Importances from fANOVA on the completed trials (normalised to sum to 1)."


def search_section(ctx: ReportContext) -> Section | None:
    """History plot, parameter importances and ``search_trials.csv`` of ``ctx.study``; a two-objective
    search of ``fcdd tune`` adds its Pareto front. None without a study.
    """
    study = ctx.study
    if study is None:
        return None
    frame = trials_frame(study)
    ctx.files.text("search_trials", "search_trials.csv", frame.to_csv(index=False))
    # fcdd tune records its objectives on the study; Ray's searcher leaves Optuna's metric names unset.
    objective = (study.user_attrs.get("objectives") or getattr(study, "metric_names", None) or ["objective"])[0]
    maximize = study.directions[0].name == "MAXIMIZE"
    blocks: list[Block] = []
    if len(study.directions) > 1:
        blocks.append(Paragraph(f"Multi-objective study: plots and importances use the first objective ({objective})."))
    counts = frame["state"].value_counts().to_dict() if len(frame) else {}
    blocks.append(Paragraph(f"Study {study.study_name!r}: {len(frame)} trials ("
                            + ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) + ")."))  # fmt: skip
    blocks += _history(ctx, frame, objective, maximize)
    blocks += _importances_blocks(ctx, frame)
    blocks += _trials_table(frame, maximize)
    blocks[1:1] = _front_blocks(ctx)  # the front, right after the first paragraph
    return Section("Search", blocks)


def _trials_table(frame: pd.DataFrame, maximize: bool) -> list[Block]:
    """Every trial while they fit a page (:data:`TABLE_TRIALS`); more: the best of them, and the CSV of all."""
    headers = [c.removeprefix("params.") for c in frame.columns]
    if len(frame) <= TABLE_TRIALS:
        rows = [[compact(v) for v in record] for record in frame.itertuples(index=False)]
        return [Paragraph("All trials:"), Table(headers, rows)]
    complete = frame[frame["state"] == "COMPLETE"].sort_values(["value", "number"], ascending=[not maximize, True])
    rows = [[compact(v) for v in record] for record in complete.head(BEST_TRIALS).itertuples(index=False)]
    return [
        Paragraph(
            f"The best {len(rows)} of {len(frame)} trials (completed, by {'highest' if maximize else 'lowest'} "
            "value, then trial number):"
        ),  # fmt: skip
        Table(headers, rows),
        Link(f"all {len(frame)} trials: search_trials.csv", "search_trials.csv"),
    ]


def search_summary(ctx: ReportContext) -> dict[str, Any]:
    """``best_params.json`` of the ``fcdd tune`` folder around this report's results ({} without one)."""
    # A tune folder's report is of its best/ reruns; the search's own files lie beside them.
    return read_json(ctx.results_dir.parent / "best_params.json", "search summary") or {}


def _history(ctx: ReportContext, frame: pd.DataFrame, objective: str, maximize: bool) -> list[Block]:
    """The objective per trial (``search_history.png``) and the best completed trial."""
    blocks: list[Block] = []
    if len(frame):
        figure = figures.search_history(
            frame["number"].tolist(),
            [None if pd.isna(v) else float(v) for v in frame["value"]],
            frame["state"].tolist(),
            maximize=maximize,
            objective=objective,
        )
        ctx.files.figure("search_history", "search_history.png", figure)
        blocks.append(Image("search_history.png", "objective per trial; pruned trials at their last reported value"))
    complete = frame[frame["state"] == "COMPLETE"] if len(frame) else frame
    if len(complete):
        several = len(ctx.study.directions) > 1
        summary = search_summary(ctx)
        picked = complete[complete["number"] == summary.get("trial_number")] if not several else complete.iloc[:0]
        # The search's own pick where it recorded one (among tied trials, not always the first)
        best = picked.iloc[0] if len(picked) else complete.loc[complete["value"].idxmax() if maximize
                                                               else complete["value"].idxmin()]  # fmt: skip
        params = ", ".join(f"{c.removeprefix('params.')}={best[c]}" for c in frame.columns
                           if c.startswith("params.") and not pd.isna(best[c]))  # fmt: skip
        label = f"Highest {objective} (not the rerun point, see the front)" if several else "Best"
        blocks.append(
            Paragraph(f"{label}: trial #{int(best['number'])}, {objective} = {best['value']:.4f} ({params}).")
        )
        if summary.get("ties") and not several:
            blocks.append(Paragraph(describe_ties(summary["ties"], summary.get("trial_number"), objective)))
    return blocks


def _importances_blocks(ctx: ReportContext, frame: pd.DataFrame) -> list[Block]:
    """``param_importances.png``, or why there are none (also a note under the run facts)."""
    study = ctx.study
    complete = frame[frame["state"] == "COMPLETE"] if len(frame) else frame
    n_params = len({name for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" for name in t.params})
    importances, message = _importances(study, len(complete), n_params)
    if importances:
        ctx.files.figure("param_importances", "param_importances.png", figures.param_importances(importances))
        return [Image("param_importances.png", message)]
    ctx.note(message)
    return [Paragraph(message)]


def _front_blocks(ctx: ReportContext) -> list[Block]:
    """The Pareto plot and front table of a two-objective search (``search/pareto.csv``, ``best_params.json``)."""
    best = search_summary(ctx)
    pareto = ctx.results_dir.parent / "search" / PARETO_FILE
    if not pareto.is_file() or len(best.get("objectives") or []) < 2:
        return []
    return _pareto_blocks(ctx, pd.read_csv(pareto), best)


def _pareto_blocks(ctx: ReportContext, frame: pd.DataFrame, best: dict[str, Any]) -> list[Block]:
    from tune.search_goals import GOALS, parse_pick

    names = tuple(best["objectives"])
    directions = (GOALS[names[0]].direction, GOALS[names[1]].direction)
    rule, factor = parse_pick(best["pick"])
    front = frame[frame["on_front"]]
    bound = None
    if rule == "within" and factor is not None and len(front):
        second = front[names[1]]
        bound = factor * float(second.min()) if directions[1] == "min" else float(second.max()) / factor
    points = [
        (float(r[names[0]]), float(r[names[1]]), bool(r["on_front"]), bool(r["picked"])) for _, r in frame.iterrows()
    ]
    ctx.files.figure("pareto", "pareto.png", figures.pareto(points, names, directions, bound))
    picked = frame[frame["picked"]]
    if rule == "within":
        words = f"the best {names[0]} among front points within {factor:g}× the best {names[1]}"
    elif rule == "knee":
        words = "the point nearest the ideal corner (both objectives scaled to [0, 1] over the front)"
    else:
        words = "the best first objective on the front"
    blocks: list[Block] = [
        Paragraph(
            f"Objectives: {names[0]} ({GOALS[names[0]].meaning}) and {names[1]} ({GOALS[names[1]].meaning}). "
            f"{len(front)} of {len(frame)} completed trials are on the Pareto front. The rerun point is picked by "
            f"--pick {best['pick']}: {words}"
            + (f"; that is trial #{int(picked.iloc[0]['number'])}." if len(picked) else ".")
            + " With two objectives no trial is stopped early."
        ),
        Image("pareto.png", f"{names[0]} against {names[1]}; the red star is the point rerun on the test split"),
    ]
    rows = [[str(int(r["number"])), compact(float(r[names[0]])), compact(float(r[names[1]])),
             "yes" if r["picked"] else ""] for _, r in front.sort_values(names[1]).iterrows()]  # fmt: skip
    blocks.append(Table(["trial", names[0], names[1], "picked"], rows))
    return blocks
