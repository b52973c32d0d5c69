"""collect: per-class AUC summary, mean ROC, ROC from scores, cost table, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fcdd.paper import PaperTable
from tests.helpers import record
from tune.collect import cost_by_class, mean_roc, summary_by_class
from tune.store import rows_to_table

SQRT_HALF_DIFF = 0.25 / math.sqrt(2)  # sample std of two values 0.25 apart


def row(cls, seed, auc, status="ok", setting="s", **extra):
    extra.setdefault("trial_seconds", 3600.0)
    extra.setdefault("class_name", f"c{cls}")
    metrics = {} if status != "ok" else {"auc": auc, "images_per_second": 100.0 + seed}
    return record(f"{setting}-{cls}-{seed}", status, setting=setting, normal_class=cls, seed=seed, cpus=2.0,
                  gpus=0.5, **metrics, **extra).to_row()  # fmt: skip


@pytest.fixture
def table():
    return rows_to_table([
        row(0, 0, 1.0), row(0, 1, 0.75),
        row(1, 0, 0.5), row(1, 1, 0.75),
        row(1, 2, None, status="failed", error="oom", attempts=2, attempt_seconds=(1800.0, 5400.0),
            trial_seconds=7200.0),
    ])  # fmt: skip


def test_summary_by_class_hand_computed(table):
    paper = [
        PaperTable("fmnist", "auc", "", 0.85, epochs=400, seeds=5, source="test", per_class={"c0": 0.8, "c1": 0.9})
    ]
    summary = summary_by_class(table, paper)
    assert list(summary["class_name"]) == ["c0", "c1", "overall"]
    c0, c1, overall = (summary.iloc[i] for i in range(3))
    assert c0["auc_mean"] == pytest.approx(0.875) and c0["auc_std"] == pytest.approx(SQRT_HALF_DIFF)
    assert c1["auc_mean"] == pytest.approx(0.625) and c1["auc_std"] == pytest.approx(SQRT_HALF_DIFF)
    # the failed run counts in n_failed but not toward the AUC
    assert (c1["n_seeds"], c1["n_failed"]) == (2, 1)
    assert overall["auc_mean"] == pytest.approx(0.75)  # mean of class means 0.875 and 0.625
    assert overall["auc_std"] == pytest.approx(SQRT_HALF_DIFF)
    assert pd.isna(overall["normal_class"]) and (overall["n_seeds"], overall["n_failed"]) == (4, 1)
    assert list(summary["paper_auc"]) == pytest.approx([0.8, 0.9, 0.85])
    assert summary["paper_pixel_auc"].isna().all() and list(summary["paper_epochs"]) == [400] * 3
    assert "pixel_auc_mean" not in summary.columns and "max_score_auc_mean" not in summary.columns


def test_overall_is_mean_of_class_means_not_of_runs():
    # class 0 has three seeds, class 1 one: the run mean (0.7) differs from the class-mean mean (0.6)
    table = rows_to_table(
        [row(0, 0, 0.8), row(0, 1, 0.8), row(0, 2, 0.8), row(1, 0, 0.4, pixel_auc=0.9, max_score_auc=0.7)]
    )
    summary = summary_by_class(table, None)
    assert summary.iloc[1]["auc_std"] == 0.0  # one seed
    assert summary.iloc[-1]["auc_mean"] == pytest.approx(0.6)
    assert "paper_auc" not in summary.columns
    assert summary["pixel_auc_mean"].iloc[1] == pytest.approx(0.9) and pd.isna(summary["pixel_auc_mean"].iloc[0])
    assert summary["max_score_auc_mean"].iloc[1] == pytest.approx(0.7) and summary["max_score_auc_std"].iloc[1] == 0


def test_summary_per_setting_and_all_failed_class():
    table = rows_to_table([row(0, 0, 0.6, setting="b"), row(0, 0, 0.9, setting="a"),
                           row(1, 0, None, status="failed", setting="a")])  # fmt: skip
    summary = summary_by_class(table)
    assert list(summary["setting"]) == ["b", "b", "a", "a", "a"]  # order of first appearance
    failed_only = summary.iloc[3]
    assert pd.isna(failed_only["auc_mean"]) and (failed_only["n_seeds"], failed_only["n_failed"]) == (0, 1)
    assert summary.iloc[4]["auc_mean"] == pytest.approx(0.9)  # classes without an ok run are left out


def test_mean_roc_of_diagonal_and_perfect_curve():
    diagonal = (np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    perfect = (np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0]))  # vertical jump at fpr 0
    grid, mean, std = mean_roc([diagonal, perfect])
    assert len(grid) == 201 and grid[0] == 0.0 and grid[-1] == 1.0
    half = np.flatnonzero(np.isclose(grid, 0.5))[0]
    assert mean[half] == pytest.approx(0.75)
    assert std[half] == pytest.approx(0.5 / math.sqrt(2))  # sample std of 0.5 and 1.0
    assert (mean[0], mean[-1], std[0]) == (0.0, 1.0, 0.0)
    _, single_mean, single_std = mean_roc([diagonal], grid=np.array([0.0, 0.25, 1.0]))
    assert single_mean == pytest.approx([0.0, 0.25, 1.0]) and not single_std.any()
    with pytest.raises(ValueError, match="curves"):
        mean_roc([])
    with pytest.raises(ValueError, match="grid"):
        mean_roc([diagonal], grid=np.array([0.5, 0.2]))


def test_cost_by_class(table):
    cost = cost_by_class(table)
    assert list(cost["class_name"]) == ["c0", "c1", "total"]
    c1 = cost.iloc[1]
    # the failed trial's two attempts (7200 s) are charged with the two ok trials (3600 s each)
    assert (c1["n_trials"], c1["attempts"]) == (3, 4) and c1["wall_seconds"] == 4 * 3600.0
    assert c1["cpu_hours"] == pytest.approx(8.0) and c1["gpu_hours"] == pytest.approx(2.0)
    assert c1["images_per_second"] == pytest.approx(100.5)  # mean over ok rows (seeds 0 and 1)
    assert cost.iloc[2]["cpu_hours"] == pytest.approx(12.0)
    assert cost["disk_mb_per_trial"].isna().all()  # records before the run folder was measured


def test_cost_by_class_shows_the_disk_per_trial():
    mb = 2**20
    table = rows_to_table([row(0, 0, 1.0, run_bytes=3 * mb), row(0, 1, 0.5, run_bytes=1 * mb),
                           row(1, 0, 0.5, run_bytes=None), row(1, 1, 0.5, run_bytes=2 * mb)])  # fmt: skip
    cost = cost_by_class(table)
    # the mean over the trials whose folder was measured: class 1's unmeasured record does not count as 0
    assert cost["disk_mb_per_trial"].tolist() == [2.0, 2.0, 2.0]


def test_paper_columns_follow_the_setting_mvtec_by_its_supervision_imagenet_by_its_mean():
    from fcdd.paper import PAPER

    def mvtec(setting, noise):
        return row(0, 0, 0.8, setting=setting, dataset="mvtec", class_name="bottle", pixel_auc=0.9,
                   config={"anomalies.supervise_mode": "noise" if noise == "mvtec_gt" else "malformed_normal",
                           "anomalies.noise_mode": noise})  # fmt: skip

    table = rows_to_table([mvtec("u", "confetti"), mvtec("ss", "mvtec_gt"),
                           row(3, 0, 0.9, setting="inet", dataset="imagenet", class_name="acorn")])  # fmt: skip
    summary = summary_by_class(table, PAPER).set_index(["setting", "class_name"])
    # Table 2: bottle .97 unsupervised, .96 semi-supervised; pixel AUC, no sample-level value for MVTec
    assert summary.loc[("u", "bottle"), "paper_pixel_auc"] == pytest.approx(0.97)
    assert summary.loc[("ss", "bottle"), "paper_pixel_auc"] == pytest.approx(0.96)
    assert pd.isna(summary.loc[("u", "bottle"), "paper_auc"])
    assert summary.loc[("u", "overall"), "paper_epochs"] == 200
    # ImageNet-30: only the mean (0.91) is published, so only the overall row has it
    assert pd.isna(summary.loc[("inet", "acorn"), "paper_auc"])
    assert summary.loc[("inet", "overall"), "paper_auc"] == pytest.approx(0.91)


def test_val_test_agreement_by_hand():
    from tune.collect import val_test_agreement

    frame = pd.DataFrame(
        {
            "normal_class": [0, 0, 0, 0, 1, 1, 2, 2, 2],
            "val_auc": [0.1, 0.2, 0.3, 0.9, 0.5, 0.6, 0.7, 0.7, 0.7],  # uneven: Pearson would differ
            "test_auc": [0.1, 0.3, 0.2, 0.4, 0.9, 0.8, 0.1, 0.2, 0.3],
        }
    )
    table = val_test_agreement(frame).set_index("normal_class")
    # Class 0: rank differences (0, 1, -1, 0): rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    assert table.loc[0, "spearman"] == pytest.approx(0.8) and table.loc[0, "n_trials"] == 4
    assert np.isnan(table.loc[1, "spearman"])  # two trials: no correlation
    assert np.isnan(table.loc[2, "spearman"])  # a constant validation AUC ranks nothing
