"""The report's sections, in the order the page shows them.

Each entry is ``(name, section)`` with ``section(ctx: ReportContext) -> Section | None``
(:mod:`tune.report.context`): it writes its files through ``ctx.files`` and returns its blocks, or
None to be left out. A new section is one such function and one line here.
"""

from __future__ import annotations

from tune.report.context import ReportSection
from tune.report.sections.comparison import comparison_section
from tune.report.sections.cost import cost_section
from tune.report.sections.gallery import gallery_section
from tune.report.sections.metrics import pixel_section, sample_auc_section
from tune.report.sections.roc import roc_section
from tune.report.sections.run import run_section
from tune.report.sections.search_trust import search_trust_section
from tune.report.sections.study import search_section

SECTIONS: list[tuple[str, ReportSection]] = [
    ("run", run_section),  # first: the notes every section leaves are listed at its end
    ("sample_auc", sample_auc_section),
    ("settings_compared", comparison_section),
    ("pixel_metrics", pixel_section),
    ("roc_curves", roc_section),
    ("test_heatmaps", gallery_section),
    ("compute_cost", cost_section),
    ("search", search_section),
    ("search_trust", search_trust_section),
]
