"""One small run folder (no training: seeded weights) and its exports, shared by the deploy tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fcdd.config import RunConfig
from fcdd.data import fmnist
from fcdd.data.preprocess import build_preprocessing
from tests.helpers import build, write_run_folder

RAW = (1, 28, 28)
THRESHOLD = 0.02


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """A finished-looking FCDD_CNN28 run on Fashion-MNIST with LCN (the README quick start's pipeline)."""
    config = RunConfig().replace(**{"network.name": "FCDD_CNN28", "data.preprocessing": "lcnaug1"})
    prep = build_preprocessing("lcnaug1", "fmnist", 0, RAW, recipes=fmnist.RECIPES)
    return write_run_folder(tmp_path_factory.mktemp("run"), config, build("FCDD_CNN28"), prep, RAW)


@pytest.fixture(scope="module")
def small_exports(small_run, tmp_path_factory) -> dict[str, Path]:
    """format -> the small run's export with threshold THRESHOLD."""
    from fcdd.deploy.export import export_run

    root = tmp_path_factory.mktemp("exports")
    return {fmt: export_run(small_run, fmt, root / fmt, threshold=THRESHOLD).folder for fmt in ("onnx", "torchscript")}
