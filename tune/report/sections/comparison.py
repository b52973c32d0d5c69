"""The report section "Settings compared over classes": ranks, Friedman, critical difference, Wilcoxon + Holm.

The statistics are :mod:`tune.significance`'s; this section only shows them and writes their tables.
"""

from __future__ import annotations

import math

from tune.report import figures
from tune.report.context import ReportContext
from tune.report.html import Block, Image, Paragraph, Section, Table
from tune.significance import Ranking, rank_settings

TITLE = "Settings compared over classes"
CD_DIAGRAM = "critical_difference.png"


def comparison_section(ctx: ReportContext) -> Section | None:
    """With two or more settings: the tests, ``settings_pairwise.csv``, ``settings_by_class.csv`` and the
    critical-difference diagram; None with one setting.
    """
    if len(ctx.ranked) < 2:
        return None
    ranking = rank_settings(ctx.table)
    if ranking is None:
        return Section(
            TITLE, [Paragraph("The tests need at least two classes with an ok run of every setting; not yet.")]
        )
    ctx.files.csv("settings_pairwise", "settings_pairwise.csv", ranking.pairwise)
    ctx.files.text("settings_by_class", "settings_by_class.csv", ranking.matrix.to_csv(float_format="%.6f"))
    diagram = figures.critical_difference_diagram(
        ranking.mean_ranks, ranking.nemenyi_p, ranking.critical_difference, ranking.alpha
    )
    ctx.files.figure("critical_difference", CD_DIAGRAM, diagram)
    return Section(TITLE, [*_rank_blocks(ranking), *_pairwise_blocks(ranking)])


def _p(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3g}"


def _rank_blocks(ranking: Ranking) -> list[Block]:
    """What the blocks of the tests are, the Friedman test, the mean ranks and the diagram."""
    n_classes, n_settings = ranking.matrix.shape
    blocks: list[Block] = [
        Paragraph(
            f"Each setting's AUC is first averaged over its seeds per class; the {n_classes} classes that every "
            f"setting has an ok run for are the blocks of the tests (rank 1 = highest AUC, ties share a rank)."
            + (f" Left out (some setting has no ok run): classes {list(ranking.left_out)}." if ranking.left_out else "")
        )
    ]
    if n_settings >= 3:
        verdict = "the settings' ranks differ" if ranking.friedman_p < ranking.alpha else "no difference shown"
        blocks.append(
            Paragraph(
                f"Friedman test over {n_classes} classes × {n_settings} settings: χ² = "
                f"{ranking.friedman_statistic:.3f}, p = {_p(ranking.friedman_p)} ({verdict} at α = {ranking.alpha:g})."
            )
        )
    else:
        blocks.append(Paragraph("Two settings: the Friedman test needs three; the Wilcoxon test below decides."))
    order = ranking.mean_ranks.sort_values().index
    rows = [[str(s), f"{ranking.mean_ranks[s]:.2f}", f"{ranking.matrix[s].mean():.3f}"] for s in order]
    caption = (
        f"Critical-difference diagram (Nemenyi, CD = {ranking.critical_difference:.2f} mean ranks): "
        "settings joined by a bar are not told apart."
    )
    return [*blocks, Table(["setting", "mean rank", "mean of class AUCs"], rows), Image(CD_DIAGRAM, caption)]


def _pairwise_blocks(ranking: Ranking) -> list[Block]:
    """The pairwise Wilcoxon tests, Holm-corrected, and why few classes cannot reach α."""
    n_classes = ranking.matrix.shape[0]
    rows = [
        [str(r.a), str(r.b), f"{r.wins}/{r.ties}/{r.losses}", f"{r.mean_difference:+.3f}", _p(r.statistic), _p(r.p),
         _p(r.p_holm), "yes" if r.significant else "no"]
        for r in ranking.pairwise.itertuples(index=False)
    ]  # fmt: skip
    headers = ["A", "B", "A wins/ties/losses", "mean Δ AUC", "W", "p", "p (Holm)", f"p (Holm) < {ranking.alpha:g}"]
    return [
        Paragraph(
            f"Pairwise Wilcoxon signed-rank tests over the classes (two-sided), Holm-corrected for "
            f"{len(rows)} pair(s). With few classes no test can reach α = {ranking.alpha:g}: "
            f"the smallest two-sided p over {n_classes} classes is {2 / 2**n_classes:.3g}."
        ),
        Table(headers, rows),
    ]
