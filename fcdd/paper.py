"""The paper's numbers (FCDD, ICLR 2021; reference §8) that reports compare runs with, and the budget behind them.

Each :class:`PaperTable` is one column of one of the paper's tables: which metric, for which
setting, per class (by class name), its mean, and the training budget that produced it (the
original runners: epochs per run × seeds per class), so a report can say when a difference is
between unlike budgets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

UNSUPERVISED, SEMI_SUPERVISED = "unsupervised", "semi-supervised"


@dataclass(frozen=True)
class PaperTable:
    """One column of the paper's results."""

    dataset: str
    metric: str  # "auc" (sample level) or "pixel_auc"
    variant: str  # "" (the dataset's one FCDD column), UNSUPERVISED or SEMI_SUPERVISED (MVTec)
    mean: float
    epochs: int
    seeds: int
    source: str
    per_class: Mapping[str, float] = field(default_factory=dict)  # class name -> value; empty: mean only


_FMNIST = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_MVTEC = ("bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut", "pill", "screw", "tile",
          "toothbrush", "transistor", "wood", "zipper")  # fmt: skip

PAPER: tuple[PaperTable, ...] = (
    PaperTable(
        "fmnist", "auc", "", 0.89, epochs=400, seeds=5, source="Table 6 (OE CIFAR-100)",
        per_class=dict(zip(_FMNIST, (0.82, 0.98, 0.84, 0.92, 0.87, 0.90, 0.75, 0.99, 0.86, 0.94), strict=True)),
    ),
    PaperTable(
        "cifar10", "auc", "", 0.95, epochs=600, seeds=5, source="Table 7 (OE CIFAR-100)",
        per_class=dict(zip(_CIFAR10, (0.95, 0.96, 0.91, 0.90, 0.94, 0.93, 0.97, 0.96, 0.97, 0.96), strict=True)),
    ),
    PaperTable("imagenet", "auc", "", 0.91, epochs=600, seeds=5, source="ImageNet-30 mean (per class not published)"),
    PaperTable(
        "mvtec", "pixel_auc", UNSUPERVISED, 0.92, epochs=200, seeds=5, source="Table 2, FCDD unsupervised",
        per_class=dict(zip(_MVTEC, (0.97, 0.90, 0.93, 0.96, 0.91, 0.95, 0.98, 0.94, 0.81, 0.86, 0.91, 0.94, 0.88, 0.88,
                                    0.92), strict=True)),  # fmt: skip
    ),
    PaperTable(
        "mvtec", "pixel_auc", SEMI_SUPERVISED, 0.96, epochs=200, seeds=5,
        source="Table 2, FCDD semi-supervised (1 real defect with its mask per defect type)",
        per_class=dict(zip(_MVTEC, (0.96, 0.93, 0.95, 0.99, 0.95, 0.97, 0.99, 0.98, 0.97, 0.93, 0.98, 0.95, 0.90, 0.94,
                                    0.98), strict=True)),  # fmt: skip
    ),
)  # fmt: skip


def variant_of(supervise_mode: object, noise_mode: object) -> str:
    """Which of the paper's MVTec columns a run compares with: real defects in training are semi-supervised."""
    real = supervise_mode in ("noise", "other") and noise_mode in ("mvtec", "mvtec_gt")
    return SEMI_SUPERVISED if real else UNSUPERVISED


def paper_table(
    dataset: object, metric: str, variant: str = "", tables: Sequence[PaperTable] = PAPER
) -> PaperTable | None:
    """The paper's column for ``dataset`` and ``metric`` (the variant matters where the paper has several)."""
    found = [t for t in tables if t.dataset == dataset and t.metric == metric]
    chosen = [t for t in found if t.variant == variant] or [t for t in found if t.variant == ""]
    return chosen[0] if chosen else None
