"""The results store: one :class:`TrialRecord` per finished or failed trial, one JSON line each, appended by the driver.

``<root>/trials.jsonl`` is append-only. Each append writes one line, flushes and fsyncs it, so a
killed driver loses at most the line it was writing; a torn line is skipped (with a warning) when
reading. A trial that is retried after an interrupted driver appends a new line, and the last line
of a ``trial_id`` wins (so does a record re-appended when ``--keep-snapshots`` removed its snapshot).

:class:`TrialRecord` is the row schema: the store, the CSV/Parquet columns and the report derive
from it. Its metric fields are :class:`fcdd.metrics.RunMetrics`', so every number a run writes to
``metrics.json`` reaches the tables; ``config.*`` columns are the flattened RunConfig.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fcdd.artifacts import jsonable, write_bytes, write_text
from fcdd.metrics import METRIC_FIELDS, RunMetrics
from tune.outdir import STORE_FILE

logger = logging.getLogger(__name__)

STATUSES = ("ok", "failed", "pruned")  # pruned: a search trial its scheduler stopped early


@dataclass(frozen=True)
class TrialRecord:
    """One trial's row: who it is, how it went, what it cost, where it ran, what it measured."""

    trial_id: str
    benchmark: str
    setting: str
    dataset: str
    normal_class: int
    class_name: str
    seed: int
    status: str  # "ok" | "failed" | "pruned"
    error: str | None  # the last line of the last failure (or why it was pruned); None when ok
    attempts: int  # attempts made, the successful one included
    attempt_seconds: tuple[float, ...]  # wall time of every attempt, failed ones included
    trial_seconds: float  # their sum: what the trial cost (the cost tables count it)
    run_dir: str
    runner: str  # "serial" | "ray"
    cpus: float
    gpus: float
    node: str | None  # hostname
    node_id: str | None  # Ray node id (None for the serial runner)
    started_at: str | None  # ISO 8601, UTC: the first attempt's start
    finished_at: str | None
    fcdd_version: str | None
    torch_version: str | None
    ray_version: str | None
    run_bytes: int | None = None  # bytes of the run folder on disk, after any snapshot was removed
    snapshot_kept: bool | None = None  # snapshot.pt still in the run folder (tune.snapshots removes some)
    metrics: RunMetrics | None = None  # None for a failed trial
    config: dict[str, Any] = field(default_factory=dict)  # RunConfig.to_flat()

    def __post_init__(self) -> None:
        if not isinstance(self.trial_id, str) or not self.trial_id:
            raise ValueError(f"a results row needs a non-empty string `trial_id`, got trial_id={self.trial_id!r}")
        if self.status not in STATUSES:
            raise ValueError(f"`status` must be one of {', '.join(STATUSES)}, got status={self.status!r}")

    def to_row(self) -> dict[str, Any]:
        """The flat row: own fields, then every metric (None when failed), then ``config.<key>``."""
        row = {name: getattr(self, name) for name in RECORD_FIELDS}
        metrics = self.metrics.to_dict() if self.metrics is not None else dict.fromkeys(METRIC_FIELDS)
        row.update(metrics)
        row.update({f"config.{k}": v for k, v in self.config.items()})
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TrialRecord:
        """Inverse of :meth:`to_row`."""
        own: dict[str, Any] = {name: row.get(name) for name in RECORD_FIELDS}
        own["attempt_seconds"] = tuple(own["attempt_seconds"] or ())
        metrics = RunMetrics.from_dict(row) if row.get("status") == "ok" and row.get("auc", None) is not None else None
        config = {k.removeprefix("config."): v for k, v in row.items() if k.startswith("config.")}
        return cls(**own, metrics=metrics, config=config)


RECORD_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(TrialRecord) if f.name not in ("metrics", "config")
)
# Column order of the table; config.* keys follow these, then anything else a row holds.
CORE_COLUMNS: tuple[str, ...] = RECORD_FIELDS + METRIC_FIELDS


def _column_kinds() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(float columns, int columns), from the annotations of TrialRecord and RunMetrics."""
    floats, ints = [], []
    for cls in (TrialRecord, RunMetrics):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            union = typing.get_origin(hint) in (typing.Union, types.UnionType)
            kinds = set(typing.get_args(hint)) - {type(None)} if union else {hint}
            if kinds == {float}:
                floats.append(f.name)
            elif kinds == {int}:
                ints.append(f.name)
    return tuple(floats), tuple(ints)


FLOAT_COLUMNS, INT_COLUMNS = _column_kinds()


class ResultsStore:
    """Append-only trial rows in ``<root>/trials.jsonl``; only the driver writes, anyone reads."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.path = self.root / STORE_FILE

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    def append(self, record: TrialRecord) -> None:
        """Append one trial's record durably (write, flush, fsync)."""
        line = json.dumps(jsonable(record.to_row()), allow_nan=False, separators=(",", ":")) + "\n"
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

    def check_parses(self) -> None:
        """Refuse a store with lines but not one readable trial row: nothing may be rebuilt from it.

        A torn last line (a process killed while appending) is normal and skipped; a file of which
        no line parses is damaged, and a report or summary built from it would be empty.
        """
        if not self.path.exists() or self.lines():
            return
        if self.path.read_bytes().strip():
            raise ValueError(
                f"{self.path} holds no readable trial row (damaged?); the existing report and tables are kept. "
                "Restore the file, or rerun the plan with --restart"
            )

    def rows(self) -> list[dict[str, Any]]:
        """The latest row of every trial, in order of each trial's first appearance."""
        latest: dict[str, dict[str, Any]] = {}
        for row in self.lines():
            latest[row["trial_id"]] = row
        return list(latest.values())

    def finished_ids(self) -> set[str]:
        """Trial ids whose latest row has status "ok" (the ones a resumed benchmark skips)."""
        return {row["trial_id"] for row in self.rows() if row.get("status") == "ok"}

    def records(self) -> list[TrialRecord]:
        """The latest record of every trial (see :meth:`rows`)."""
        return [TrialRecord.from_row(row) for row in self.rows()]

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
            "csv": write_text(self.root / "results.csv", csv_text),
            "parquet": write_bytes(self.root / "results.parquet", parquet.getvalue()),
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
            changes[name] = column.map(lambda v: v if _is_missing(v) else json.dumps(jsonable(v)))
            continue
        try:
            pa.array(column.tolist(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed scalar types (an int in one row, a string in another): keep them as text.
            changes[name] = column.map(lambda v: v if _is_missing(v) else str(v))
    return table.assign(**changes) if changes else table


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
