"""The schema of a run's ``metrics.json``: one frozen dataclass that every reader and writer shares.

The results store of the experiment layer (:mod:`tune.store`) makes each field a column of a
trial's row, so every number a run measures reaches the tables and the report.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunMetrics:
    """What one finished run measured. Optional fields are None where a run has no such number."""

    auc: float  # sample-level ROC AUC on the test split
    epochs: int  # epochs trained in total (resumed runs included)
    train_seconds: float  # time in the training epochs
    images_per_second: float  # training throughput over all epochs
    eval_seconds: float  # time of the final evaluation (sample and pixel metrics)
    wall_seconds: float  # from the first epoch to the written metrics (data loading excluded)
    final_loss: float  # mean training loss of the last epoch (nan when no epoch ran)
    n_train: int  # nominal training images (after the validation split)
    n_test: int  # test images (after real anomalies were moved to training)
    n_test_anomalous: int
    device: str  # e.g. "cpu", "cuda:0"
    precision: str  # "bfloat16" (autocast) or "fp32"
    threads: int  # torch CPU threads the run used
    heatmap_scale: tuple[float, float]  # (low, high) colour scale of the test heatmaps; `fcdd explain` reuses it
    removed_test_anomalies: int = 0  # anomalous test images moved into training (mvtec noise modes)
    peak_gpu_memory_mb: float | None = None  # CUDA only: what a fractional --gpus-per-trial must fit
    # Datasets with ground-truth masks (each pixel metric beside its floors, fcdd.engine.floors):
    pixel_auc: float | None = None  # pooled over every test pixel at the masks' resolution
    pixel_aupro: float | None = None  # area under the per-region-overlap curve to FPR 0.3, / 0.3
    max_score_auc: float | None = None  # sample AUC with an image's score = the maximum of its heatmap
    constant_pixel_auc: float | None = None  # a constant low-resolution map, upsampled like the method's
    constant_pixel_aupro: float | None = None
    zscore_pixel_auc: float | None = None  # per-pixel z-score against the nominal training images
    zscore_pixel_aupro: float | None = None
    anomalous_pixels: int | None = None
    pixels: int | None = None
    # Runs that hold out validation data (searches):
    val_auc: float | None = None
    val_pixel_auc: float | None = None  # pixel AUC on the validation split, where its anomalies carry masks
    n_validation: int | None = None
    n_validation_anomalous: int | None = None  # of n_validation; the AUC moves in steps of 1/(nominal·anomalous)
    validation_anomalies: str | None = None  # where the validation anomalies came from

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in field order (NaN stays a float; JSON writers turn it into null)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunMetrics:
        """Inverse of :meth:`to_dict`; keys that are no field (a Ray result's own keys) are ignored."""
        values = {f.name: raw[f.name] for f in dataclasses.fields(cls) if f.name in raw}
        for name in ("auc", "final_loss", "images_per_second"):  # JSON null: a NaN that was written out
            if name in values and values[name] is None:
                values[name] = math.nan
        if values.get("heatmap_scale") is not None:
            values["heatmap_scale"] = tuple(float(v) for v in values["heatmap_scale"])
        return cls(**values)


METRIC_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RunMetrics))
