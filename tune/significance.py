"""Is setting A really better than B? Settings ranked over classes with non-parametric tests.

The classes are the blocks and the settings the treatments (Demšar, "Statistical comparisons of
classifiers over multiple data sets", JMLR 2006): each setting's AUC is first averaged over its
seeds per class, so a class with five seeds weighs as much as one with three. Then

- a Friedman test asks whether the settings' ranks differ at all (three or more settings);
- the Nemenyi post-hoc test and its critical difference say which pairs of mean ranks differ
  (``scikit_posthocs``), drawn as a critical-difference diagram by the report;
- pairwise Wilcoxon signed-rank tests over the classes, Holm-corrected for the number of pairs
  (``scipy.stats.wilcoxon``, ``statsmodels``' ``multipletests``).

Pure functions: the results table in, DataFrames and numbers out; nothing here draws or writes
(the report section that shows them is :mod:`tune.report.sections.comparison`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

ALPHA = 0.05


@dataclass(frozen=True)
class Ranking:
    """The comparison of two or more settings over the classes every one of them has results for."""

    matrix: pd.DataFrame  # rows: normal_class, columns: setting; AUC mean over seeds
    mean_ranks: pd.Series  # per setting; 1 is the best (highest AUC), ties share the mean rank
    friedman_statistic: float  # NaN with two settings (Friedman needs three)
    friedman_p: float
    nemenyi_p: pd.DataFrame  # setting × setting
    critical_difference: float  # of mean ranks, Nemenyi at ``alpha``
    pairwise: pd.DataFrame  # one row per pair: see :func:`pairwise_wilcoxon`
    left_out: tuple[int, ...]  # classes some setting has no ok run for
    alpha: float = ALPHA


def class_means(table: pd.DataFrame) -> tuple[pd.DataFrame, tuple[int, ...]]:
    """AUC mean over seeds per class (rows) and setting (columns), from the ok rows of ``table``.

    Only classes every setting has an ok run for are kept (the tests need complete blocks); the
    others are returned as the second item so the report can name them.
    """
    ok = table[(table["status"] == "ok") & table["auc"].notna()]
    if ok.empty:
        return pd.DataFrame(), ()
    settings = list(dict.fromkeys(ok["setting"]))  # order of first appearance
    matrix = ok.groupby(["normal_class", "setting"], sort=True)["auc"].mean().unstack("setting")
    matrix = matrix.reindex(columns=settings)
    complete = matrix.notna().all(axis=1)
    left_out = tuple(int(c) for c in matrix.index[~complete])
    matrix = matrix[complete]
    matrix.index = matrix.index.astype(int)
    return matrix.astype(float), left_out


def mean_ranks(matrix: pd.DataFrame) -> pd.Series:
    """Each setting's rank per class (1 = highest AUC, ties averaged), averaged over the classes."""
    from scipy.stats import rankdata

    ranks = np.vstack([rankdata(-row, method="average") for row in matrix.to_numpy()])
    return pd.Series(ranks.mean(axis=0), index=matrix.columns, name="mean_rank")


def critical_difference(n_settings: int, n_classes: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of mean ranks: q_alpha · sqrt(k (k + 1) / (6 N)).

    q_alpha is the studentized range quantile for k groups and infinite degrees of freedom,
    divided by sqrt(2) (Demšar 2006, Table 5: 1.960 for k = 2, 2.343 for k = 3 at alpha 0.05).
    """
    from scipy.stats import studentized_range

    q = studentized_range.ppf(1 - alpha, n_settings, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(n_settings * (n_settings + 1) / (6 * n_classes)))


def pairwise_wilcoxon(matrix: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Wilcoxon signed-rank test over the classes for every pair of settings, Holm-corrected.

    Columns: a, b, n_classes, wins (classes where a beats b), ties, losses, mean_difference (a − b),
    statistic, p (two-sided, exact for small samples as scipy chooses), p_holm, significant
    (p_holm < alpha). A pair whose differences are all zero gets p = 1.
    """
    from scipy.stats import wilcoxon
    from statsmodels.stats.multitest import multipletests

    rows = []
    for a, b in itertools.combinations(matrix.columns, 2):
        difference = (matrix[a] - matrix[b]).to_numpy()
        if np.all(difference == 0):
            statistic, p = float("nan"), 1.0
        else:
            result = wilcoxon(matrix[a].to_numpy(), matrix[b].to_numpy())
            statistic, p = float(result.statistic), float(result.pvalue)
        rows.append(
            {
                "a": a,
                "b": b,
                "n_classes": len(difference),
                "wins": int((difference > 0).sum()),
                "ties": int((difference == 0).sum()),
                "losses": int((difference < 0).sum()),
                "mean_difference": float(difference.mean()),
                "statistic": statistic,
                "p": p,
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["p_holm"] = multipletests(frame["p"].to_numpy(), alpha=alpha, method="holm")[1]
    frame["significant"] = frame["p_holm"] < alpha
    return frame


def rank_settings(table: pd.DataFrame, alpha: float = ALPHA) -> Ranking | None:
    """The full comparison; None with fewer than two settings or fewer than two complete classes."""
    import scikit_posthocs as sp
    from scipy.stats import friedmanchisquare

    matrix, left_out = class_means(table)
    if matrix.shape[1] < 2 or matrix.shape[0] < 2:
        return None
    if matrix.shape[1] >= 3:
        result = friedmanchisquare(*(matrix[c].to_numpy() for c in matrix.columns))
        statistic, p = float(result.statistic), float(result.pvalue)
    else:
        statistic, p = float("nan"), float("nan")
    nemenyi = sp.posthoc_nemenyi_friedman(matrix.to_numpy())
    nemenyi.index = nemenyi.columns = matrix.columns
    return Ranking(
        matrix=matrix,
        mean_ranks=mean_ranks(matrix),
        friedman_statistic=statistic,
        friedman_p=p,
        nemenyi_p=nemenyi,
        critical_difference=critical_difference(matrix.shape[1], matrix.shape[0], alpha),
        pairwise=pairwise_wilcoxon(matrix, alpha),
        left_out=left_out,
        alpha=alpha,
    )
