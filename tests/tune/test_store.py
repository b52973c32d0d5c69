"""ResultsStore: durable appends, last line wins, torn lines skipped, CSV/Parquet tables."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from tune.store import ResultsStore


def make_row(trial_id: str, status: str = "ok", **extra) -> dict:
    row = {
        "trial_id": trial_id, "benchmark": "b", "setting": "default", "dataset": "fmnist", "normal_class": 0,
        "class_name": "T-shirt", "seed": 0, "status": status, "error": None if status == "ok" else "boom",
        "attempts": 1, "run_dir": "/nowhere", "auc": 0.9 if status == "ok" else None, "val_auc": None,
        "epochs": 2, "train_seconds": 1.0, "eval_seconds": 0.5, "wall_seconds": 2.0, "images_per_second": 100.0,
        "cpus": 1.0, "gpus": 0.0, "node": "n1", "started_at": "2025-01-01T00:00:00",
        "finished_at": "2025-01-01T00:00:02",
        "fcdd_version": "0.1.0", "torch_version": "2.14.1", "ray_version": "2.60.0",
        "config.optim.lr": 0.01, "config.optim.milestones": [], "config.data.data_dir": None,
    }  # fmt: skip
    row.update(extra)
    return row


def test_last_line_wins_and_finished_ids(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(make_row("a", status="failed", attempts=1))
    store.append(make_row("b", auc=0.7))
    store.append(make_row("a", status="ok", attempts=2, auc=0.8))
    store.append(make_row("c", status="failed"))
    rows = store.rows()
    assert [r["trial_id"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["attempts"] == 2 and rows[0]["auc"] == 0.8
    assert store.finished_ids() == {"a", "b"}
    # ok then failed again: the latest (failed) row wins, so the trial is no longer finished
    store.append(make_row("b", status="failed"))
    assert store.finished_ids() == {"a"}
    assert len((tmp_path / "trials.jsonl").read_text().splitlines()) == 5


def test_torn_last_line_is_skipped_and_next_append_survives(tmp_path, caplog):
    store = ResultsStore(tmp_path)
    store.append(make_row("a"))
    with open(store.path, "a") as handle:  # a driver killed mid-write
        handle.write('{"trial_id": "b", "status": "o')
    with caplog.at_level(logging.WARNING, logger="tune.store"):
        assert [r["trial_id"] for r in store.rows()] == ["a"]
    assert "line 2" in caplog.text
    store.append(make_row("c"))  # must not be glued onto the torn line
    assert [r["trial_id"] for r in store.rows()] == ["a", "c"]


def test_append_validates_and_writes_nan_as_null(tmp_path):
    store = ResultsStore(tmp_path)
    with pytest.raises(ValueError, match="trial_id"):
        store.append({"status": "ok"})
    with pytest.raises(ValueError, match="status"):
        store.append({"trial_id": "x", "status": "done"})
    store.append(make_row("n", auc=float("nan")))
    assert json.loads(store.path.read_text())["auc"] is None
    assert store.rows()[0]["auc"] is None


def test_table_and_written_tables(tmp_path):
    store = ResultsStore(tmp_path)
    assert store.table().empty and "auc" in store.table().columns
    store.append(make_row("a", seed=0, auc=0.75, **{"config.optim.milestones": [4, 8]}))
    store.append(make_row("b", seed=1, status="failed", epochs=None, extra_key="x"))
    table = store.table()
    assert list(table["trial_id"]) == ["a", "b"]
    assert list(table.columns[:3]) == ["trial_id", "benchmark", "setting"]
    assert table.columns[-1] == "extra_key"
    assert str(table["seed"].dtype) == "Int64" and table["epochs"].isna().tolist() == [False, True]
    assert table["auc"].dtype == "float64" and pd.isna(table["auc"].iloc[1])

    paths = store.write_tables()
    assert set(paths) == {"csv", "parquet"}
    csv = pd.read_csv(paths["csv"])
    parquet = pd.read_parquet(paths["parquet"])
    for frame in (csv, parquet):
        assert list(frame["trial_id"]) == ["a", "b"]
        assert frame["auc"].iloc[0] == pytest.approx(0.75)
    assert json.loads(parquet["config.optim.milestones"].iloc[0]) == [4, 8]
    assert not list(tmp_path.glob(".*.tmp"))  # temporary files were renamed into place
