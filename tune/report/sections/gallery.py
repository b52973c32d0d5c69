"""The report section "Test heatmaps": per class of the best setting, the runs a reader needs, and a page with all.

The first page shows per class the ok seeds with the lowest, median and highest AUC and every
failed trial's reason; every seed's heatmaps, AUC and error are one click away on the class's own
page, ``classes/<setting>_class_<c>.html``. So the page reads the same at 2 seeds and at 100: its
pictures grow with the classes, never with the seeds. Each ok run's ``heatmaps_test.png`` is
copied into ``gallery/`` (the report folder holds everything it shows).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tune.report.context import ReportContext
from tune.report.html import (
    Block,
    Bullets,
    Details,
    Gallery,
    Heading,
    Image,
    Link,
    Paragraph,
    Section,
    Table,
    render_html,
)
from tune.report.sections.cells import fmt, last_line, pm, setting_slugs

TITLE = "Test heatmaps"
PER_CLASS = 3  # the lowest, median and highest AUC
FIRST_PAGE_BUDGET = 30  # pictures in all on the first page by default; many classes get fewer each
CLASS_PAGES = "classes"
_RULES = {1: "the median AUC", 2: "the lowest and highest AUC", 3: "the lowest, median and highest AUC"}
_COLUMNS = ["normal_class", "class_name", "seed", "status", "auc", "epochs", "trial_seconds", "trial_id", "error",
            "run_dir"]  # fmt: skip


def shown_per_class(n_classes: int, chosen: int | None) -> int:
    """Heatmaps per class on the first page: ``chosen`` (--gallery-seeds), else 3 while the classes fit
    :data:`FIRST_PAGE_BUDGET`, else as many as fit (at least 1).
    """
    if chosen is not None:
        return chosen
    return max(1, min(PER_CLASS, FIRST_PAGE_BUDGET // max(1, n_classes)))


def spread(n: int, k: int) -> list[int]:
    """``k`` positions spread evenly over ``0..n-1``, both ends included (k = 1: the lower median;
    k = 3: lowest, lower median, highest); every position once when ``k >= n``.
    """
    if k >= n:
        return list(range(n))
    if k == 1:
        return [(n - 1) // 2]
    return sorted({i * (n - 1) // (k - 1) for i in range(k)})


def gallery_section(ctx: ReportContext) -> Section:
    """Per class of the best setting: the picked heatmaps, failed trials and a link to the class page."""
    if not ctx.ranked:
        return Section(TITLE, [Paragraph("No trials yet.")])
    best = ctx.ranked[0]
    rows = ctx.table.loc[ctx.table["setting"] == best, _COLUMNS]
    groups = list(rows.groupby("normal_class", sort=True))
    shown = shown_per_class(len(groups), ctx.gallery_seeds)
    rule = _RULES.get(shown, f"{shown} spread over the AUC order, lowest and highest included")
    blocks: list[Block] = [
        Paragraph(
            f"Setting {best}: per class the ok seeds with {rule} and every failed trial; every seed's heatmaps, "
            "AUC and error are on the class's own page (the link beside each class)."
        )
    ]
    slug = setting_slugs([best])[best]
    for _, group in groups:
        pictures = _copy_pictures(ctx, group)
        page = _write_class_page(ctx, best, slug, group, pictures)
        blocks += _class_blocks(group, pictures, shown, page)
    return Section(TITLE, blocks)


def _copy_pictures(ctx: ReportContext, group: pd.DataFrame) -> dict[int, Image]:
    """Each ok run's heatmaps_test.png copied into the report, by seed; runs without one are left out."""
    pictures = {}
    for row in _ok_by_auc(group).itertuples(index=False):
        run = ctx.run_folder(row.run_dir)
        source = run / "heatmaps_test.png" if run is not None else None
        if source is None or not source.is_file():
            continue
        cls, seed = int(row.normal_class), int(row.seed)
        name = f"gallery/class_{cls}_seed_{seed}.png"
        ctx.files.copy(f"gallery:{cls}:{seed}", name, source)
        pictures[seed] = Image(name, f"class {cls} ({row.class_name}), seed {seed}: AUC {fmt(row.auc)}")
    return pictures


def _ok_by_auc(group: pd.DataFrame) -> pd.DataFrame:
    ok = group[group["status"] == "ok"]
    return ok.sort_values(["auc", "seed"], na_position="last", kind="stable")


def _class_blocks(group: pd.DataFrame, pictures: dict[int, Image], shown: int, page: str) -> list[Block]:
    """A class on the first page: heading, counts and the link to its page, the picked heatmaps, failures."""
    ok = _ok_by_auc(group)
    ranked = [int(s) for s in ok["seed"] if int(s) in pictures]
    picked = [_labelled(pictures[ranked[i]], i, len(ranked)) for i in spread(len(ranked), shown)]
    failed = group[group["status"] != "ok"].sort_values("seed")
    first = group.iloc[0]
    blocks: list[Block] = [
        Heading(f"class {int(first.normal_class)} ({first.class_name})"),
        Link(
            f"all {len(group)} seeds: heatmaps, AUCs, errors",
            page,
            lead=f"{len(ok)} ok, {len(failed)} failed; AUC {pm(ok['auc'].mean(), ok['auc'].std())}.",
        ),
    ]
    if picked:
        blocks.append(Gallery(picked))
    elif len(ok):
        blocks.append(Paragraph("No heatmaps_test.png found for its ok runs."))
    if len(failed):
        blocks.append(Bullets(_failure_lines(failed)))
    return blocks


def _failure_lines(failed: pd.DataFrame) -> list[str]:
    """One line per distinct reason (the error's last line): "2 failed (seeds 36, 73): RuntimeError: ..."."""
    reasons = failed.assign(reason=[last_line(e) for e in failed["error"]])
    lines = []
    for (status, reason), group in reasons.groupby(["status", "reason"], sort=False):
        seeds = ", ".join(str(int(s)) for s in sorted(group["seed"]))
        lines.append(f"{len(group)} {status} (seed{'s' if len(group) > 1 else ''} {seeds}): {reason}")
    return lines


def _labelled(image: Image, index: int, n: int) -> Image:
    """The picture captioned with where its AUC stands among the class's ok runs."""
    if n == 1:
        where = "the only ok run"
    elif index == 0:
        where = f"lowest of {n}"
    elif index == n - 1:
        where = f"highest of {n}"
    elif index == (n - 1) // 2:
        where = f"median of {n}"
    else:
        where = f"rank {index + 1} of {n}, lowest AUC first"
    return Image(image.path, f"{image.caption} ({where})")


def _write_class_page(
    ctx: ReportContext, setting: Any, slug: str, group: pd.DataFrame, pictures: dict[int, Image]
) -> str:
    """``classes/<setting>_class_<c>.html``: every trial of the class, its error, every seed's heatmaps."""
    first = group.iloc[0]
    cls = int(first.normal_class)
    name = f"{CLASS_PAGES}/{slug}_class_{cls}.html"
    rows = [[str(int(r.seed)), str(r.status), fmt(r.auc), fmt(r.epochs, 0), fmt(r.trial_seconds, 1), str(r.trial_id),
             "" if r.status == "ok" else last_line(r.error)]
            for r in group.sort_values("seed").itertuples()]  # fmt: skip
    ok = group[group["status"] == "ok"]
    failed = group[group["status"] != "ok"]
    blocks: list[Block] = [
        Link("back to the report", "report.html", lead="←"),
        Paragraph(f"{len(ok)} ok, {len(failed)} failed; AUC {pm(ok['auc'].mean(), ok['auc'].std())}."),
    ]
    if len(failed):
        messages = "\n\n".join(f"[{r.trial_id}]\n{r.error}" for r in failed.itertuples())
        blocks += [Bullets(_failure_lines(failed)), Details("full error messages", messages)]
    if pictures:
        blocks += [Heading("test heatmaps of every ok seed, by seed"), Gallery([pictures[s] for s in sorted(pictures)])]
    blocks += [Heading("every trial"), Table(["seed", "status", "AUC", "epochs", "wall s", "trial", "error"], rows)]
    title = f"class {cls} ({first.class_name}) — setting {setting}"
    page = render_html(title, [Section("Trials", blocks)], ctx.out, ctx.out / CLASS_PAGES)
    ctx.files.text(f"class_page:{cls}", name, page)
    return name
