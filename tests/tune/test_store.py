"""ResultsStore: durable appends, last line wins, torn lines skipped, CSV/Parquet tables."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from tests.helpers import record
from tune.store import CORE_COLUMNS, ResultsStore, TrialRecord


def test_last_line_wins_and_finished_ids(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(record("a", status="failed", attempts=1))
    store.append(record("b", auc=0.7))
    store.append(record("a", status="ok", attempts=2, auc=0.8))
    store.append(record("c", status="failed"))
    rows = store.rows()
    assert [r["trial_id"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["attempts"] == 2 and rows[0]["auc"] == 0.8
    assert store.finished_ids() == {"a", "b"}
    # ok then failed again: the latest (failed) row wins, so the trial is no longer finished
    store.append(record("b", status="failed"))
    assert store.finished_ids() == {"a"}
    assert len((tmp_path / "trials.jsonl").read_text().splitlines()) == 5


def test_torn_last_line_is_skipped_and_next_append_survives(tmp_path, caplog):
    store = ResultsStore(tmp_path)
    store.append(record("a"))
    with open(store.path, "a") as handle:  # a driver killed mid-write
        handle.write('{"trial_id": "b", "status": "o')
    with caplog.at_level(logging.WARNING, logger="tune.store"):
        assert [r["trial_id"] for r in store.rows()] == ["a"]
    assert "line 2" in caplog.text
    store.append(record("c"))  # must not be glued onto the torn line
    assert [r["trial_id"] for r in store.rows()] == ["a", "c"]


def test_records_validate_and_nan_is_written_as_null(tmp_path):
    store = ResultsStore(tmp_path)
    with pytest.raises(ValueError, match="trial_id"):
        record("")
    with pytest.raises(ValueError, match="status"):
        record("x", status="done")
    store.append(record("n", auc=float("nan")))
    assert json.loads(store.path.read_text())["auc"] is None
    assert store.rows()[0]["auc"] is None


def test_table_and_written_tables(tmp_path):
    store = ResultsStore(tmp_path)
    assert store.table().empty and "auc" in store.table().columns
    store.append(record("a", seed=0, auc=0.75, config={"optim.milestones": [4, 8]}))
    store.append(record("b", seed=1, status="failed"))
    table = store.table()
    assert list(table["trial_id"]) == ["a", "b"]
    assert list(table.columns[: len(CORE_COLUMNS)]) == list(CORE_COLUMNS)
    assert table.columns[-1] == "config.optim.milestones"
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


def test_record_round_trips_through_the_store(tmp_path):
    store = ResultsStore(tmp_path)
    original = record("r", attempts=2, attempt_seconds=(1.5, 2.5), trial_seconds=4.0, pixel_auc=0.8, max_score_auc=0.7)
    store.append(original)
    assert store.records() == [original]
    failed = record("f", status="failed", attempts=2, attempt_seconds=(3.0, 1.0), trial_seconds=4.0)
    store.append(failed)
    back = store.records()[1]
    assert back == failed and back.metrics is None and back.trial_seconds == 4.0


def test_every_record_field_and_metric_is_a_column():
    import dataclasses

    from fcdd.metrics import RunMetrics

    names = {f.name for f in dataclasses.fields(TrialRecord)} - {"metrics", "config"}
    names |= {f.name for f in dataclasses.fields(RunMetrics)}
    assert set(CORE_COLUMNS) == names
    assert set(record("x").to_row()) >= names
