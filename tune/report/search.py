"""The search part of the report: history plot, parameter importances and the table of trials.

Reads an ``optuna.Study`` (any storage; only its trials are read). Optuna itself is imported only
for the importance evaluator, so a report without a study never loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fcdd.artifacts import write_bytes, write_text
from tune.report import figures
from tune.report.html import Image, Paragraph, Section, Table


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


def search_section(study: Any, out: Path, written: dict[str, Path], notes: list[str]) -> Section:
    """Write search_history.png, param_importances.png and search_trials.csv; return the report section."""
    frame = trials_frame(study)
    csv_text = frame.to_csv(index=False)
    written["search_trials"] = write_text(out / "search_trials.csv", csv_text)
    # fcdd tune records its objectives on the study; Ray's searcher leaves Optuna's metric names unset.
    objective = (study.user_attrs.get("objectives") or getattr(study, "metric_names", None) or ["objective"])[0]
    maximize = study.directions[0].name == "MAXIMIZE"
    blocks: list[Any] = []
    if len(study.directions) > 1:
        blocks.append(Paragraph(f"Multi-objective study: plots and importances use the first objective ({objective})."))
    counts = frame["state"].value_counts().to_dict() if len(frame) else {}
    blocks.append(Paragraph(f"Study {study.study_name!r}: {len(frame)} trials ("
                            + ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) + ")."))  # fmt: skip
    if len(frame):
        png = figures.search_history_png(
            frame["number"].tolist(),
            [None if pd.isna(v) else float(v) for v in frame["value"]],
            frame["state"].tolist(),
            maximize=maximize,
            objective=objective,
        )
        written["search_history"] = write_bytes(out / "search_history.png", png)
        blocks.append(Image("search_history.png", "objective per trial; pruned trials at their last reported value"))
    complete = frame[frame["state"] == "COMPLETE"] if len(frame) else frame
    if len(complete):
        best = complete.loc[complete["value"].idxmax() if maximize else complete["value"].idxmin()]
        params = ", ".join(f"{c.removeprefix('params.')}={best[c]}" for c in frame.columns
                           if c.startswith("params.") and not pd.isna(best[c]))  # fmt: skip
        label = f"Highest {objective} (not the rerun point, see the front)" if len(study.directions) > 1 else "Best"
        blocks.append(
            Paragraph(f"{label}: trial #{int(best['number'])}, {objective} = {best['value']:.4f} ({params}).")
        )
    n_params = len({name for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" for name in t.params})
    importances, message = _importances(study, len(complete), n_params)
    if importances:
        png = figures.param_importances_png(importances)
        written["param_importances"] = write_bytes(out / "param_importances.png", png)
        blocks.append(Image("param_importances.png", message))
    else:
        notes.append(message)
        blocks.append(Paragraph(message))
    headers = [c.removeprefix("params.") for c in frame.columns]
    rows = [[_cell(v) for v in record] for record in frame.itertuples(index=False)]
    blocks += [Paragraph("All trials:"), Table(headers, rows)]
    return Section("Search", blocks)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def pareto_blocks(frame: pd.DataFrame, best: dict[str, Any], out: Path, written: dict[str, Path]) -> list[Any]:
    """The Pareto plot and front table of a two-objective search (``search/pareto.csv``, ``best_params.json``)."""
    from tune.objectives import OBJECTIVES, parse_pick

    names = tuple(best["objectives"])
    directions = (OBJECTIVES[names[0]].direction, OBJECTIVES[names[1]].direction)
    rule, factor = parse_pick(best["pick"])
    front = frame[frame["on_front"]]
    bound = None
    if rule == "within" and factor is not None and len(front):
        second = front[names[1]]
        bound = factor * float(second.min()) if directions[1] == "min" else float(second.max()) / factor
    points = [
        (float(r[names[0]]), float(r[names[1]]), bool(r["on_front"]), bool(r["picked"])) for _, r in frame.iterrows()
    ]
    written["pareto"] = write_bytes(out / "pareto.png", figures.pareto_png(points, names, directions, bound))
    picked = frame[frame["picked"]]
    if rule == "within":
        words = f"the best {names[0]} among front points within {factor:g}× the best {names[1]}"
    elif rule == "knee":
        words = "the point nearest the ideal corner (both objectives scaled to [0, 1] over the front)"
    else:
        words = "the best first objective on the front"
    blocks: list[Any] = [
        Paragraph(
            f"Objectives: {names[0]} ({OBJECTIVES[names[0]].meaning}) and {names[1]} ({OBJECTIVES[names[1]].meaning}). "
            f"{len(front)} of {len(frame)} completed trials are on the Pareto front. The rerun point is picked by "
            f"--pick {best['pick']}: {words}"
            + (f"; that is trial #{int(picked.iloc[0]['number'])}." if len(picked) else ".")
            + " With two objectives no trial is stopped early."
        ),
        Image("pareto.png", f"{names[0]} against {names[1]}; the red star is the point rerun on the test split"),
    ]
    rows = [[str(int(r["number"])), _cell(float(r[names[0]])), _cell(float(r[names[1]])), "yes" if r["picked"] else ""]
            for _, r in front.sort_values(names[1]).iterrows()]  # fmt: skip
    blocks.append(Table(["trial", names[0], names[1], "picked"], rows))
    return blocks


def selection_section(
    frame: pd.DataFrame, out: Path, written: dict[str, Path], picked_trial: str | None = None
) -> Section:
    """Validation against test AUC of every search trial: Spearman per class and a scatter plot per class."""
    from tune.collect import val_test_agreement

    agreement = val_test_agreement(frame)
    choices = sorted({str(v) for v in frame["validation_anomalies"].dropna()})
    if "validation_source" in frame.columns:
        sources = sorted({str(v).split(":")[0] for v in frame["validation_source"].dropna()})
        choices = [f"{c} (resolved: {', '.join(sources)})" if c == "auto" and sources else c for c in choices]
    blocks: list[Any] = [
        Paragraph(
            "Each search trial's validation AUC (the only number the search saw) against its test AUC, measured "
            "once the search was over; a trial stopped early is scored from its last checkpoint. A high rank "
            "correlation means the validation split orders settings as the test split does. Validation "
            f"anomalies: {'; '.join(choices) or 'unknown'}."
        )
    ]
    rows = [[str(r.normal_class), str(r.n_trials), _cell(r.spearman), _cell(r.p)] for r in agreement.itertuples()]
    blocks.append(Table(["search class", "trials", "Spearman ρ (val, test)", "p"], rows))
    for normal_class, group in frame.dropna(subset=["val_auc", "test_auc"]).groupby("normal_class", sort=True):
        points = [(float(r.val_auc), float(r.test_auc), str(r.status)) for r in group.itertuples()]
        complete = group[group["status"] == "ok"]
        if picked_trial is not None:  # the search's own pick (a two-objective search's Pareto point)
            chosen = group[group["trial_id"] == picked_trial]
            best = chosen.iloc[0] if len(chosen) else None
        else:
            best = complete.loc[complete["val_auc"].idxmax()] if len(complete) else None
        picked = (float(best["val_auc"]), float(best["test_auc"])) if best is not None else None
        name = f"val_vs_test_class_{int(normal_class)}.png"
        written[f"val_vs_test:{int(normal_class)}"] = write_bytes(
            out / name, figures.val_vs_test_png(points, picked, f"search class {int(normal_class)}")
        )
        blocks.append(Image(name, f"class {int(normal_class)}: validation vs test AUC per search trial"))
    return Section("Can the search be trusted?", blocks)
