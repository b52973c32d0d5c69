"""The results store: one JSON line per finished or failed trial, appended by the single driver.

``<root>/trials.jsonl`` is append-only. Each append writes one line, flushes and fsyncs it, so a
killed driver loses at most the line it was writing; a torn line is skipped (with a warning) when
reading. A trial that is retried appends a new line, and the last line of a ``trial_id`` wins.

Row format (a flat dict; ``config.*`` keys are the flattened :class:`fcdd.config.RunConfig`)::

    trial_id, benchmark, setting, dataset, normal_class, class_name, seed,
    status ("ok" | "failed"), error, attempts, run_dir,
    auc, val_auc, pixel_auc, epochs, train_seconds, eval_seconds, wall_seconds, images_per_second,
    peak_gpu_memory_mb (CUDA only), cpus, gpus, node (hostname), node_id (Ray node), started_at, finished_at,
    fcdd_version, torch_version, ray_version, config.<section>.<field>...
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from fcdd.outputs import atomic_write

logger = logging.getLogger(__name__)

STORE_FILE = "trials.jsonl"
STATUSES = ("ok", "failed")

# Column order of the table; config.* keys follow these, then anything else a driver added.
CORE_COLUMNS = (
    "trial_id", "benchmark", "setting", "dataset", "normal_class", "class_name", "seed", "status", "error",
    "attempts", "run_dir", "auc", "val_auc", "pixel_auc", "epochs", "train_seconds", "eval_seconds",
    "wall_seconds", "images_per_second", "peak_gpu_memory_mb", "cpus", "gpus", "node", "node_id", "started_at",
    "finished_at", "fcdd_version", "torch_version", "ray_version",
)  # fmt: skip
FLOAT_COLUMNS = (
    "auc", "val_auc", "pixel_auc", "train_seconds", "eval_seconds", "wall_seconds", "images_per_second",
    "peak_gpu_memory_mb", "cpus", "gpus",
)  # fmt: skip
INT_COLUMNS = ("normal_class", "seed", "attempts", "epochs")


def _jsonable(value: Any) -> Any:
    # JSON has no NaN/inf: null means "not available", which is what a NaN AUC means here.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars from metric code
        return _jsonable(value.item())
    if isinstance(value, Path):
        return str(value)
    return value


class ResultsStore:
    """Append-only trial rows in ``<root>/trials.jsonl``; only the driver writes, anyone reads."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.path = self.root / STORE_FILE

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    def append(self, row: dict[str, Any]) -> None:
        """Append one trial row durably (write, flush, fsync)."""
        trial_id = row.get("trial_id")
        if not isinstance(trial_id, str) or not trial_id:
            raise ValueError(f"a results row needs a non-empty string `trial_id`, got trial_id={trial_id!r}")
        status = row.get("status")
        if status not in STATUSES:
            raise ValueError(f"`status` must be one of {', '.join(STATUSES)}, got status={status!r}")
        line = json.dumps(_jsonable(row), allow_nan=False, separators=(",", ":")) + "\n"
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as handle:
            # A driver killed mid-write leaves a line without its newline; start a fresh line so the
            # new row is not glued onto the torn one and lost with it.
            if handle.seek(0, os.SEEK_END) > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    line = "\n" + line
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())

    def lines(self) -> list[dict[str, Any]]:
        """Every appended row in order, a retried trial's earlier rows included; torn lines are skipped."""
        if not self.path.exists():
            return []
        parsed = []
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    logger.warning("%s line %d is not valid JSON (torn write?); skipped", self.path, number)
                    continue
                if not isinstance(row, dict) or not isinstance(row.get("trial_id"), str):
                    logger.warning("%s line %d is not a trial row; skipped", self.path, number)
                    continue
                parsed.append(row)
        return parsed

    def rows(self) -> list[dict[str, Any]]:
        """The latest row of every trial, in order of each trial's first appearance."""
        latest: dict[str, dict[str, Any]] = {}
        for row in self.lines():
            latest[row["trial_id"]] = row
        return list(latest.values())

    def finished_ids(self) -> set[str]:
        """Trial ids whose latest row has status "ok" (the ones a resumed benchmark skips)."""
        return {row["trial_id"] for row in self.rows() if row.get("status") == "ok"}

    def table(self) -> pd.DataFrame:
        """One row per trial: core columns first, then ``config.*`` sorted, then any extra keys."""
        return rows_to_table(self.rows())

    def write_tables(self) -> dict[str, Path]:
        """Write ``results.csv`` and ``results.parquet`` next to the store, each atomically."""
        table = _flatten_cells(self.table())
        csv_text = table.to_csv(index=False)
        parquet = io.BytesIO()
        table.to_parquet(parquet, engine="pyarrow", index=False)
        return {
            "csv": atomic_write(self.root / "results.csv", lambda f: f.write(csv_text), mode="w"),
            "parquet": atomic_write(self.root / "results.parquet", lambda f: f.write(parquet.getvalue())),
        }


def rows_to_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Trial rows → DataFrame with stable column order and numeric dtypes (missing numbers are NaN)."""
    table = pd.DataFrame(rows)
    keys = list(table.columns)
    config = sorted(k for k in keys if k.startswith("config."))
    extra = [k for k in keys if k not in CORE_COLUMNS and k not in config]
    columns = [*CORE_COLUMNS, *config, *extra]
    table = table.reindex(columns=columns)
    for name in FLOAT_COLUMNS:
        table[name] = pd.to_numeric(table[name], errors="coerce").astype("float64")
    for name in INT_COLUMNS:
        # Nullable ints: a failed trial may have no epoch count, and NaN would turn class 3 into 3.0.
        table[name] = pd.to_numeric(table[name], errors="coerce").astype("Int64")
    return table


def _flatten_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Lists/dicts (``config.optim.milestones``) become JSON text so CSV and Parquet columns are scalar."""
    import pyarrow as pa

    changes = {}
    for name in table.columns:
        column = table[name]
        if column.dtype != object:
            continue
        if column.map(lambda v: isinstance(v, (list, tuple, dict))).any():
            changes[name] = column.map(lambda v: v if _is_missing(v) else json.dumps(_jsonable(v)))
            continue
        try:
            pa.array(column.tolist(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed scalar types (an int in one row, a string in another): keep them as text.
            changes[name] = column.map(lambda v: v if _is_missing(v) else str(v))
    return table.assign(**changes) if changes else table


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
