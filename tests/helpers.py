"""Builders shared by the test folders (one home for each): seeded randomness, networks, image folders, records."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor, nn

from fcdd.metrics import RunMetrics
from tune.store import TrialRecord


def gen(seed: int = 0) -> torch.Generator:
    """A CPU generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int = 1, dtype: torch.dtype = torch.float32) -> Tensor:
    """Standard normal values of ``shape`` from a generator seeded with ``seed``."""
    return torch.randn(*shape, generator=gen(seed), dtype=dtype)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """The global RNG seeded for the block and restored after (weight init draws from it)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def build(name: str, **kwargs: Any) -> nn.Module:
    """Registered network ``name`` with seed-0 random weights (never pretrained)."""
    from fcdd.networks.build import build_network

    with seeded(0):
        return build_network(name, pretrained=False, **kwargs)


def write_custom_tree(
    root: Path, classes: tuple[str, ...] = ("metal", "wood"), *, size: tuple[int, int] = (40, 30), images: int = 2
) -> Path:
    """A custom-folder dataset: ``train/<class>/normal/``, ``test/<class>/{normal,anomalous}/`` of flat PNGs."""
    for cls in classes:
        for sub in ("train/{}/normal", "test/{}/normal", "test/{}/anomalous"):
            folder = root / sub.format(cls)
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(images):
                Image.new("RGB", size, (60 * i, 100, 20)).save(folder / f"{i}.png")
    return root


def run_metrics(**changes: Any) -> RunMetrics:
    """A plausible finished run's metrics, with ``changes``."""
    base = RunMetrics(
        auc=0.9, epochs=2, train_seconds=1.0, images_per_second=100.0, eval_seconds=0.5, wall_seconds=2.0,
        final_loss=0.1, n_train=10, n_test=20, n_test_anomalous=10, device="cpu", precision="fp32", threads=1,
        heatmap_scale=(0.0, 1.0),
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


_METRIC_NAMES = {f.name for f in dataclasses.fields(RunMetrics)}


def record(trial_id: str, status: str = "ok", **changes: Any) -> TrialRecord:
    """A results-store record; ``changes`` may name record fields, metric fields or ``config``."""
    metric_changes = {k: changes.pop(k) for k in list(changes) if k in _METRIC_NAMES}
    failed = status != "ok"
    seconds = changes.pop("trial_seconds", 2.0)
    fields: dict[str, Any] = {
        "trial_id": trial_id, "benchmark": "b", "setting": "default", "dataset": "fmnist", "normal_class": 0,
        "class_name": "T-shirt", "seed": 0, "status": status, "error": "boom" if failed else None, "attempts": 1,
        "attempt_seconds": (seconds,), "trial_seconds": seconds, "run_dir": "/nowhere", "runner": "serial",
        "cpus": 1.0, "gpus": 0.0, "node": "n1", "node_id": None, "started_at": "2025-01-01T00:00:00+00:00",
        "finished_at": "2025-01-01T00:00:02+00:00", "fcdd_version": "0.1.0", "torch_version": "2.14.1",
        "ray_version": "2.60.0", "metrics": None if failed else run_metrics(**metric_changes),
        "config": {"optim.lr": 0.01, "optim.milestones": [], "data.data_dir": None},
    }  # fmt: skip
    fields.update(changes)
    return TrialRecord(**fields)


def scores_auc(run_dir: Path) -> float:
    """The sample AUC recomputed from a run folder's scores.npz with scikit-learn."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    with np.load(Path(run_dir) / "scores.npz") as saved:
        return float(roc_auc_score(saved["label"], saved["score"]))


def write_run_folder(
    root: Path, config: Any, net: nn.Module, preprocessing: Any, raw_shape: tuple[int, int, int]
) -> Path:
    """A finished run folder without training: ``config``, ``preprocessing``, ``net``'s weights, plausible metrics."""
    from fcdd import artifacts

    root.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(root / "config.json", config.to_dict())
    artifacts.write_json(
        root / "preprocessing.json", {"preprocessing": preprocessing.to_dict(), "raw_shape": list(raw_shape)}
    )
    artifacts.write_checkpoint(root / "snapshot.pt", {"net": net.state_dict()})
    artifacts.write_json(root / "metrics.json", run_metrics().to_dict())
    return root
