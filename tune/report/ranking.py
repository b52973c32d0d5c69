"""The report section "Settings compared over classes": ranks, Friedman, critical difference, Wilcoxon + Holm."""

from __future__ import annotations

import math
from pathlib import Path

from fcdd.artifacts import write_bytes
from tune.ranking import Ranking
from tune.report import figures
from tune.report.html import Block, Image, Paragraph, Section, Table

CD_DIAGRAM = "critical_difference.png"


def _p(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3g}"


def ranking_section(ranking: Ranking, out: Path, written: dict[str, Path]) -> Section:
    """The section and its diagram (written into ``out``); the caller omits it with fewer than two settings."""
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
    blocks.append(Table(["setting", "mean rank", "mean of class AUCs"], rows))
    diagram = figures.critical_difference_png(
        ranking.mean_ranks, ranking.nemenyi_p, ranking.critical_difference, ranking.alpha
    )
    written["critical_difference"] = write_bytes(out / CD_DIAGRAM, diagram)
    blocks.append(
        Image(
            CD_DIAGRAM,
            f"Critical-difference diagram (Nemenyi, CD = {ranking.critical_difference:.2f} mean ranks): "
            "settings joined by a bar are not told apart.",
        )
    )
    pair_rows = [
        [
            str(r.a),
            str(r.b),
            f"{r.wins}/{r.ties}/{r.losses}",
            f"{r.mean_difference:+.3f}",
            _p(r.statistic),
            _p(r.p),
            _p(r.p_holm),
            "yes" if r.significant else "no",
        ]  # fmt: skip
        for r in ranking.pairwise.itertuples(index=False)
    ]
    blocks += [
        Paragraph(
            f"Pairwise Wilcoxon signed-rank tests over the classes (two-sided), Holm-corrected for "
            f"{len(pair_rows)} pair(s). With few classes no test can reach α = {ranking.alpha:g}: "
            f"the smallest two-sided p over {n_classes} classes is {2 / 2**n_classes:.3g}."
        ),
        Table(
            ["A", "B", "A wins/ties/losses", "mean Δ AUC", "W", "p", "p (Holm)", f"p (Holm) < {ranking.alpha:g}"],
            pair_rows,
        ),  # fmt: skip
    ]
    return Section("Settings compared over classes", blocks)
