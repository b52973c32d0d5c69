"""Summaries over classes and seeds: AUC per run, mean ± std per class, mean over classes."""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fcdd import outputs


def summarise(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate per-run rows (``normal_class``, ``seed``, ``auc``) into per-class statistics.

    ``std`` is the sample standard deviation over seeds (0 for a single seed); ``mean_auc`` is
    the mean of the class means, the paper's dataset-level number.
    """
    by_class: dict[int, list[float]] = defaultdict(list)
    runs = []
    for row in rows:
        by_class[int(row["normal_class"])].append(float(row["auc"]))
        runs.append({"normal_class": int(row["normal_class"]), "seed": int(row["seed"]), "auc": float(row["auc"])})
    classes = {}
    for cls in sorted(by_class):
        values = by_class[cls]
        classes[str(cls)] = {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n_seeds": len(values),
        }
    means = [c["mean"] for c in classes.values()]
    return {
        "runs": sorted(runs, key=lambda r: (r["normal_class"], r["seed"])),
        "classes": classes,
        "mean_auc": statistics.fmean(means) if means else math.nan,
    }


def summary_csv(summary: dict[str, Any]) -> str:
    """One line per class (mean, std, seeds) plus a final ``mean`` line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["normal_class", "auc_mean", "auc_std", "n_seeds", "aucs"])
    per_class: dict[int, list[str]] = defaultdict(list)
    for run in summary["runs"]:
        per_class[run["normal_class"]].append(f"{run['auc']:.6f}")
    for cls, stats in summary["classes"].items():
        writer.writerow(
            [cls, f"{stats['mean']:.6f}", f"{stats['std']:.6f}", stats["n_seeds"], " ".join(per_class[int(cls)])]
        )
    writer.writerow(["mean", f"{summary['mean_auc']:.6f}", "", "", ""])
    return buffer.getvalue()


def write_summary(out_dir: Path, rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Write ``summary.json`` and ``summary.csv`` into ``out_dir``; return the summary."""
    summary = summarise(rows)
    outputs.write_json(Path(out_dir) / "summary.json", summary)
    text = summary_csv(summary)
    outputs.write_text(Path(out_dir) / "summary.csv", text)
    return summary
