"""The report section "Test heatmaps": each ok run's ``heatmaps_test.png`` of the best setting, copied in."""

from __future__ import annotations

from tune.report.context import ReportContext
from tune.report.html import Gallery, Image, Paragraph, Section


def gallery_section(ctx: ReportContext) -> Section:
    """The test heatmaps of every ok run of the best setting (the lowest ``ctx.gallery_seeds`` seeds per class)."""
    best = ctx.ranked[0] if ctx.ranked else None
    table = ctx.table
    ok = table[(table["status"] == "ok") & (table["setting"] == best)].sort_values(["normal_class", "seed"])
    images = []
    for normal_class, group in ok.groupby("normal_class", sort=True):
        seeds = ctx.gallery_seeds if ctx.gallery_seeds is not None else len(group)
        for row in group.head(seeds).itertuples(index=False):
            run = ctx.run_folder(row.run_dir)
            source = run / "heatmaps_test.png" if run is not None else None
            if source is None or not source.is_file():
                continue
            name = f"gallery/class_{int(normal_class)}_seed_{int(row.seed)}.png"
            ctx.files.figure(f"gallery:{int(normal_class)}:{int(row.seed)}", name, source.read_bytes())
            caption = f"class {int(normal_class)} ({row.class_name}): setting {row.setting}, seed {row.seed}"
            images.append(Image(name, caption))
    if not images:
        return Section("Test heatmaps", [Paragraph("No heatmaps_test.png found for any ok run.")])
    return Section("Test heatmaps", [Gallery(images)])
