"""tune.significance against hand-computed values and scipy on a hand-made table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import friedmanchisquare, wilcoxon

from tune.significance import class_means, critical_difference, mean_ranks, pairwise_wilcoxon, rank_settings

# AUC per class (rows) for settings a, b, c; b and c tie on class 3.
AUC = {
    0: (0.90, 0.80, 0.70),
    1: (0.85, 0.88, 0.60),
    2: (0.95, 0.75, 0.74),
    3: (0.70, 0.65, 0.65),
    4: (0.99, 0.90, 0.80),
    5: (0.80, 0.70, 0.71),
}
SETTINGS = ("a", "b", "c")


def table(seeds: int = 2) -> pd.DataFrame:
    """The AUCs above as store rows: seed s gets AUC ± 0.01 around the class value (mean unchanged)."""
    rows = []
    for cls, aucs in AUC.items():
        for setting, auc in zip(SETTINGS, aucs, strict=True):
            for seed in range(seeds):
                offset = (0.01 if seed % 2 else -0.01) if seeds % 2 == 0 else 0.0
                row = {"setting": setting, "normal_class": cls, "seed": seed, "status": "ok", "auc": auc + offset}
                rows.append(row)
    return pd.DataFrame(rows)


def test_seeds_are_averaged_per_class_first() -> None:
    rows = table(seeds=2)
    # A third seed of class 0 for setting a only: the class mean moves, the class still counts once.
    rows = pd.concat([rows, pd.DataFrame([{"setting": "a", "normal_class": 0, "seed": 2, "status": "ok", "auc": 0.6}])])
    matrix, left_out = class_means(rows)
    assert left_out == ()
    assert matrix.shape == (6, 3) and list(matrix.columns) == list(SETTINGS)
    assert matrix.loc[0, "a"] == pytest.approx((0.89 + 0.91 + 0.6) / 3)
    assert matrix.loc[4, "c"] == pytest.approx(0.80)


def test_classes_without_every_setting_are_left_out_and_failed_rows_ignored() -> None:
    rows = table(seeds=1)
    rows.loc[(rows["normal_class"] == 2) & (rows["setting"] == "b"), "status"] = "failed"
    matrix, left_out = class_means(rows)
    assert left_out == (2,) and 2 not in matrix.index and len(matrix) == 5


def test_mean_ranks_by_hand() -> None:
    matrix, _ = class_means(table(seeds=1))
    # Ranks per class (1 = best): a 1,2,1,1,1,1; b 2,1,2,2.5,2,3; c 3,3,3,2.5,3,2.
    expected = {"a": 7 / 6, "b": 12.5 / 6, "c": 16.5 / 6}
    assert mean_ranks(matrix).to_dict() == pytest.approx(expected)


def test_critical_difference_matches_demsar_table() -> None:
    # Demšar (2006), Table 5(a): q_0.05 = 1.960 (k=2), 2.343 (k=3), 2.569 (k=4).
    for k, q in ((2, 1.960), (3, 2.343), (4, 2.569)):
        assert critical_difference(k, 10) == pytest.approx(q * math.sqrt(k * (k + 1) / 60), abs=1e-3)


def test_friedman_and_wilcoxon_agree_with_scipy() -> None:
    ranking = rank_settings(table(seeds=2))
    assert ranking is not None
    columns = [np.array([AUC[c][i] for c in AUC]) for i in range(3)]
    expected = friedmanchisquare(*columns)
    assert ranking.friedman_statistic == pytest.approx(expected.statistic)
    assert ranking.friedman_p == pytest.approx(expected.pvalue)
    pairs = ranking.pairwise.set_index(["a", "b"])
    raw = {}
    for (i, a), (j, b) in ((x, y) for x in enumerate(SETTINGS) for y in enumerate(SETTINGS) if x[0] < y[0]):
        reference = wilcoxon(columns[i], columns[j])
        assert pairs.loc[(a, b), "statistic"] == pytest.approx(reference.statistic)
        assert pairs.loc[(a, b), "p"] == pytest.approx(reference.pvalue)
        raw[(a, b)] = reference.pvalue
    # Holm by hand: sorted p times (m - rank + 1), made monotone, capped at 1.
    order = sorted(raw, key=raw.get)
    running, holm = 0.0, {}
    for position, pair in enumerate(order):
        running = max(running, min(1.0, raw[pair] * (len(order) - position)))
        holm[pair] = running
    for pair, value in holm.items():
        assert pairs.loc[pair, "p_holm"] == pytest.approx(value)
    assert pairs.loc[("a", "b"), ["wins", "ties", "losses"]].tolist() == [5, 0, 1]
    assert pairs.loc[("b", "c"), ["wins", "ties", "losses"]].tolist() == [4, 1, 1]


def test_nemenyi_separates_only_ranks_further_apart_than_the_cd() -> None:
    ranking = rank_settings(table(seeds=1))
    assert ranking is not None
    ranks, cd = ranking.mean_ranks, ranking.critical_difference
    for a in SETTINGS:
        for b in SETTINGS:
            if a != b:
                apart = abs(ranks[a] - ranks[b]) > cd
                assert (ranking.nemenyi_p.loc[a, b] < ranking.alpha) == apart, (a, b)
    assert ranking.nemenyi_p.loc["a", "c"] < 0.05 < ranking.nemenyi_p.loc["a", "b"]


def test_identical_settings_are_not_different_and_one_setting_is_no_ranking() -> None:
    rows = table(seeds=1)
    twin = rows[rows["setting"] == "a"].assign(setting="a2")
    pairs = pairwise_wilcoxon(class_means(pd.concat([rows[rows["setting"] == "a"], twin]))[0])
    assert pairs.loc[0, "p"] == 1.0 and not pairs.loc[0, "significant"]
    assert rank_settings(rows[rows["setting"] == "a"]) is None
    two = rank_settings(rows[rows["setting"] != "c"])
    assert two is not None and math.isnan(two.friedman_p)  # Friedman needs three settings
