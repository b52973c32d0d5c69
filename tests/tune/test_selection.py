"""The search's val-vs-test table from a store of search trials (those that ran to their end)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from fcdd.config import RunConfig
from tests.helpers import record
from tune.outdir import VAL_VS_TEST_FILE
from tune.selection import COLUMNS, val_vs_test
from tune.store import ResultsStore


def test_finished_trials_give_their_runs_numbers_and_unusable_ones_are_left_out(tmp_path: Path, caplog) -> None:
    config = RunConfig().replace(**{"data.validation_anomalies": "synthetic"}).to_flat()
    store = ResultsStore(tmp_path)
    store.append(record("a", config=config, normal_class=2, val_auc=0.8, auc=0.7, epochs=3,
                        validation_anomalies="confetti"))  # fmt: skip
    store.append(record("b", "failed", config=config))  # failed: not a search result
    store.append(record("c", "pruned", config=config, metrics=None, run_dir=str(tmp_path / "no-run")))
    with caplog.at_level(logging.WARNING, logger="tune.selection"):
        table = val_vs_test(tmp_path)
    assert list(table.columns) == list(COLUMNS)
    assert table.to_dict("records") == [
        {"trial_id": "a", "normal_class": 2, "status": "ok", "epochs": 3, "val_auc": 0.8, "test_auc": 0.7,
         "test_from": "its run's end", "validation_anomalies": "synthetic", "validation_source": "confetti"},
    ]  # fmt: skip
    assert "search trial c: no snapshot.pt" in caplog.text
    assert pd.read_csv(tmp_path / VAL_VS_TEST_FILE).to_dict("records") == table.to_dict("records")


def test_an_empty_search_gives_the_columns_only(tmp_path: Path) -> None:
    assert val_vs_test(tmp_path).empty and (tmp_path / VAL_VS_TEST_FILE).read_text().strip() == ",".join(COLUMNS)


@pytest.mark.parametrize("status", ["ok", "pruned"])
def test_a_trial_without_a_validation_auc_needs_its_snapshot(tmp_path: Path, status: str) -> None:
    ResultsStore(tmp_path).append(record("x", status, config=RunConfig().to_flat(), run_dir=str(tmp_path / "gone")))
    assert val_vs_test(tmp_path).empty  # no val_auc, no snapshot to score: left out with a warning
