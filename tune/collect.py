"""Aggregation of the results table: AUC per class and setting, mean ROC curves, compute cost.

Pure functions: a table (``ResultsStore.table()``) or arrays in, DataFrames or arrays out. Only
rows with status "ok" count toward AUCs; failed rows are counted (``n_failed``) and, in the cost
table, charged for the time they used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fcdd.paper import PaperTable, paper_table, variant_of

OVERALL = "overall"  # class_name of the per-setting row over all classes
# Per-run metrics besides the sample AUC that the summary averages where runs have them.
EXTRA_METRICS = (
    "pixel_auc",
    "pixel_aupro",
    "max_score_auc",
    "constant_pixel_auc",
    "constant_pixel_aupro",
    "zscore_pixel_auc",
    "zscore_pixel_aupro",
)
TOTAL = "total"  # class_name of the per-setting row of the cost table

_GROUP = ["setting", "normal_class"]


def _sample_std(values: pd.Series) -> float:
    # Sample std over seeds, and 0 (not NaN) for a single seed so tables show "± 0.000".
    values = values.dropna()
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0 if len(values) == 1 else float("nan")


def _first_valid(values: pd.Series) -> object:
    values = values.dropna()
    return values.iloc[0] if len(values) else None


def summary_by_class(table: pd.DataFrame, paper: Sequence[PaperTable] | None = None) -> pd.DataFrame:
    """AUC mean ± std over seeds per (setting, normal_class), plus one "overall" row per setting.

    Columns: setting, dataset, normal_class (nullable; <NA> on "overall" rows), class_name,
    auc_mean, auc_std (sample std over seeds, 0 for one seed), n_seeds (ok runs), n_failed,
    epochs (mean over ok runs), then <metric>_mean / <metric>_std for each of
    :data:`EXTRA_METRICS` that some ok row has, then, with ``paper`` (``fcdd.paper.PAPER``):
    paper_auc and paper_pixel_auc (the paper's values for the class, looked up by class name and,
    for MVTec, by whether the setting trains on real defects), paper_epochs and paper_seeds (the
    budget behind them).

    The "overall" row's auc_mean is the mean of the class means (the paper's dataset-level
    number), auc_std the sample std of the class means; classes without an ok run are left out of
    it. Its paper values are the means of the paper's values of the same classes, so the two
    compare (the paper's own mean where it gives no per-class values).
    Settings keep their order of first appearance; classes are sorted.
    """
    _require(table, ["setting", "dataset", "normal_class", "class_name", "status", "auc"])
    ok = table["status"] == "ok"
    extras = [m for m in EXTRA_METRICS if m in table.columns and table.loc[ok, m].notna().any()]
    records = []
    for setting in pd.unique(table["setting"]):
        in_setting = table[table["setting"] == setting]
        tables = _paper_tables(in_setting, paper) if paper is not None else {}
        class_rows = []
        for normal_class, group in in_setting.groupby("normal_class", sort=True):
            good = group[group["status"] == "ok"]
            class_name = _first_valid(group["class_name"])
            record = {
                "setting": setting,
                "dataset": _first_valid(group["dataset"]),
                "normal_class": int(normal_class),
                "class_name": class_name,
                "auc_mean": float(good["auc"].mean()) if good["auc"].notna().any() else float("nan"),
                "auc_std": _sample_std(good["auc"]),
                "n_seeds": int(good["auc"].notna().sum()),
                "n_failed": int((group["status"] != "ok").sum()),
                "epochs": float(good["epochs"].mean()) if "epochs" in good and good["epochs"].notna().any() else np.nan,
            }
            for metric in extras:
                values = good[metric]
                record[f"{metric}_mean"] = float(values.mean()) if values.notna().any() else float("nan")
                record[f"{metric}_std"] = _sample_std(values)
            for column, found in tables.items():
                record[column] = float(found.per_class.get(str(class_name), np.nan)) if found else np.nan
            class_rows.append(record)
        records.extend(class_rows)
        records.append(_overall_row(setting, class_rows, extras, tables))
    columns = ["setting", "dataset", "normal_class", "class_name", "auc_mean", "auc_std", "n_seeds", "n_failed",
               "epochs"]  # fmt: skip
    for metric in extras:
        columns += [f"{metric}_mean", f"{metric}_std"]
    if paper is not None:
        columns += [*PAPER_COLUMNS, "paper_epochs", "paper_seeds"]
    summary = pd.DataFrame.from_records(records, columns=columns)
    return summary.astype({"normal_class": "Int64", "n_seeds": "int64", "n_failed": "int64"})


# Summary column -> the paper's metric it holds.
PAPER_COLUMNS = {"paper_auc": "auc", "paper_pixel_auc": "pixel_auc"}


def _paper_tables(rows: pd.DataFrame, paper: Sequence[PaperTable]) -> dict[str, PaperTable | None]:
    """The paper's column per summary column for one setting's rows (MVTec: by its supervision)."""
    dataset = _first_valid(rows["dataset"])
    supervise = (
        _first_valid(rows["config.anomalies.supervise_mode"]) if "config.anomalies.supervise_mode" in rows else None
    )
    noise = _first_valid(rows["config.anomalies.noise_mode"]) if "config.anomalies.noise_mode" in rows else None
    variant = variant_of(supervise, noise)
    return {column: paper_table(dataset, metric, variant, paper) for column, metric in PAPER_COLUMNS.items()}


def _overall_row(setting: object, class_rows: list[dict], extras: list[str], tables: dict) -> dict:
    means = pd.Series([r["auc_mean"] for r in class_rows], dtype="float64").dropna()
    datasets = {r["dataset"] for r in class_rows if r["dataset"] is not None}
    epochs = pd.Series([r["epochs"] for r in class_rows], dtype="float64").dropna()
    row = {
        "setting": setting,
        "dataset": datasets.pop() if len(datasets) == 1 else None,
        "normal_class": None,
        "class_name": OVERALL,
        "auc_mean": float(means.mean()) if len(means) else float("nan"),
        "auc_std": _sample_std(means),
        "n_seeds": sum(r["n_seeds"] for r in class_rows),
        "n_failed": sum(r["n_failed"] for r in class_rows),
        "epochs": float(epochs.mean()) if len(epochs) else float("nan"),
    }
    for metric in extras:
        means_of = pd.Series([r[f"{metric}_mean"] for r in class_rows], dtype="float64").dropna()
        row[f"{metric}_mean"] = float(means_of.mean()) if len(means_of) else float("nan")
        row[f"{metric}_std"] = _sample_std(means_of)
    budget = next((t for t in tables.values() if t is not None), None)
    for column, found in tables.items():
        if found is None:
            row[column] = float("nan")
        elif not found.per_class:  # only the mean is published (ImageNet-30)
            row[column] = found.mean
        else:
            # Only classes that have results: a partial run compares against the same classes.
            values = [r[column] for r in class_rows if not np.isnan(r["auc_mean"])]
            row[column] = float(np.mean(values)) if values and not np.isnan(values).any() else float("nan")
    if tables:
        for r in (*class_rows, row):
            r["paper_epochs"] = budget.epochs if budget else np.nan
            r["paper_seeds"] = budget.seeds if budget else np.nan
    return row


def mean_roc(
    curves: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average ROC curves (one per seed) on a common FPR grid: ``(grid, mean_tpr, std_tpr)``.

    Each curve is linearly interpolated onto ``grid`` (default: 201 points on [0, 1]); its TPR is
    forced to 0 at FPR 0 and to 1 at FPR 1 so every curve spans the unit square. Where a curve
    jumps vertically (repeated FPR), the top of the jump is used. ``std_tpr`` is the sample std
    over curves (zeros for a single curve).
    """
    if not curves:
        raise ValueError("`curves` must hold at least one (fpr, tpr) pair, got an empty list")
    grid = np.linspace(0.0, 1.0, 201) if grid is None else np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or len(grid) < 2 or np.any(np.diff(grid) <= 0) or grid[0] < 0 or grid[-1] > 1:
        raise ValueError(f"`grid` must be a strictly increasing 1-D array in [0, 1], got {grid!r}")
    rows = []
    for fpr, tpr in curves:
        fpr, tpr = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
        if fpr.shape != tpr.shape or fpr.ndim != 1 or len(fpr) == 0:
            raise ValueError(f"each curve needs 1-D fpr and tpr of equal length, got shapes {fpr.shape}, {tpr.shape}")
        order = np.lexsort((tpr, fpr))  # by fpr, then tpr: the last of a repeated fpr is its highest tpr
        fpr, tpr = fpr[order], tpr[order]
        last = np.r_[fpr[1:] != fpr[:-1], True]
        row = np.interp(grid, fpr[last], tpr[last])
        row[grid == 0.0] = 0.0
        row[grid == 1.0] = 1.0
        rows.append(row)
    stacked = np.stack(rows)
    std = stacked.std(axis=0, ddof=1) if len(rows) > 1 else np.zeros_like(grid)
    return grid, stacked.mean(axis=0), std


def cost_by_class(table: pd.DataFrame) -> pd.DataFrame:
    """Compute spent per (setting, normal_class), plus one "total" row per setting.

    Columns: setting, normal_class (<NA> on "total" rows), class_name, n_trials (ok and failed),
    attempts, wall_seconds = Σ trial_seconds (every attempt of every trial, failed ones included),
    cpu_hours = Σ trial_seconds·cpus / 3600, gpu_hours likewise with gpus, images_per_second
    (mean over ok rows), disk_mb_per_trial (mean over the trials with a measured run folder of its
    bytes on disk, after ``--keep-snapshots`` removed what it removes; NaN for older records).
    Failed trials and retries count: they used the machines too.
    """
    _require(table, ["setting", "normal_class", "class_name", "status", "trial_seconds", "attempts", "cpus", "gpus"])
    seconds = table["trial_seconds"].fillna(0.0)
    frame = table.assign(
        _seconds=seconds,
        _cpu_hours=seconds * table["cpus"].fillna(0.0) / 3600.0,
        _gpu_hours=seconds * table["gpus"].fillna(0.0) / 3600.0,
        _ips=table["images_per_second"].where(table["status"] == "ok") if "images_per_second" in table else np.nan,
        _mb=table["run_bytes"].astype("float64") / 2**20 if "run_bytes" in table else np.nan,
    )
    records = []
    for setting in pd.unique(frame["setting"]):
        in_setting = frame[frame["setting"] == setting]
        for normal_class, group in [*in_setting.groupby("normal_class", sort=True), (None, in_setting)]:
            records.append(
                {
                    "setting": setting,
                    "normal_class": None if normal_class is None else int(normal_class),
                    "class_name": TOTAL if normal_class is None else _first_valid(group["class_name"]),
                    "n_trials": len(group),
                    "attempts": int(group["attempts"].fillna(0).sum()),
                    "wall_seconds": float(group["_seconds"].sum()),
                    "cpu_hours": float(group["_cpu_hours"].sum()),
                    "gpu_hours": float(group["_gpu_hours"].sum()),
                    "images_per_second": float(group["_ips"].mean()) if group["_ips"].notna().any() else float("nan"),
                    "disk_mb_per_trial": float(group["_mb"].mean()) if group["_mb"].notna().any() else float("nan"),
                }
            )
    columns = ["setting", "normal_class", "class_name", "n_trials", "attempts", "wall_seconds", "cpu_hours",
               "gpu_hours", "images_per_second", "disk_mb_per_trial"]  # fmt: skip
    return pd.DataFrame.from_records(records, columns=columns).astype(
        {"normal_class": "Int64", "n_trials": "int64", "attempts": "int64"}
    )


def _require(table: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"the results table lacks columns {missing}; build it with ResultsStore.table()")


def val_test_agreement(frame: pd.DataFrame) -> pd.DataFrame:
    """Spearman rank correlation of validation AUC and test AUC per class, over a search's trials.

    ``frame`` has columns normal_class, val_auc, test_auc (``tune.selection.val_vs_test``).
    Columns: normal_class, n_trials, spearman, p (scipy's, two-sided; NaN below three trials
    or when one column is constant).
    """
    from scipy.stats import spearmanr

    rows = []
    for normal_class, group in frame.dropna(subset=["val_auc", "test_auc"]).groupby("normal_class", sort=True):
        n = len(group)
        constant = group["val_auc"].nunique() < 2 or group["test_auc"].nunique() < 2
        if n < 3 or constant:
            rho, p = float("nan"), float("nan")
        else:
            result = spearmanr(group["val_auc"], group["test_auc"])
            rho, p = float(result.statistic), float(result.pvalue)
        rows.append({"normal_class": int(normal_class), "n_trials": n, "spearman": rho, "p": p})
    return pd.DataFrame(rows, columns=["normal_class", "n_trials", "spearman", "p"])
