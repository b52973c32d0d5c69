"""Aggregation over classes and seeds."""

import statistics

import pytest

from fcdd.summary import summarise, summary_csv, write_summary

ROWS = [
    {"normal_class": 0, "seed": 0, "auc": 0.8},
    {"normal_class": 0, "seed": 1, "auc": 0.9},
    {"normal_class": 2, "seed": 0, "auc": 0.6},
]


def test_summary_means_and_stds():
    s = summarise(ROWS)
    assert s["classes"]["0"]["mean"] == pytest.approx(0.85)
    assert s["classes"]["0"]["std"] == pytest.approx(statistics.stdev([0.8, 0.9]))
    assert s["classes"]["2"]["std"] == 0.0
    assert s["mean_auc"] == pytest.approx((0.85 + 0.6) / 2)  # mean of class means, not of runs


def test_summary_csv_and_files(tmp_path):
    text = summary_csv(summarise(ROWS))
    lines = text.strip().splitlines()
    assert lines[0].startswith("normal_class,auc_mean,auc_std")
    assert lines[1].startswith("0,0.850000,0.070711,2,")
    assert lines[-1].startswith("mean,0.725000")
    write_summary(tmp_path, ROWS)
    assert (tmp_path / "summary.csv").read_text() == text
    assert '"mean_auc": 0.725' in (tmp_path / "summary.json").read_text()
