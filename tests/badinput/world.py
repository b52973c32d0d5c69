"""The files the bad-input cases run against, in the real formats: tiny datasets, a finished results
folder, a `fcdd tune` folder with its study, and hostile files (pickles that would create a marker
file when unpickled, a decompression-bomb PNG, corrupt and foreign checkpoints).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.helpers import write_custom_tree
from tests.helpers.mvtec import write_tree as write_mvtec

MARKER_NAME = "MARKER-code-ran"
ROOT = Path(__file__).resolve().parents[2]


def run_cli(argv: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``fcdd ARGV`` in a fresh interpreter, as a user's shell would start it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run(
        [sys.executable, "-m", "tune.cli", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


class Evil:
    """Unpickling this runs a shell command that creates ``path``: proof that a reader executed code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.path}",))


def evil_pickle(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(Evil(marker), protocol=2))
    return path


def evil_torch_file(path: Path, marker: Path) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"net": Evil(marker)}, path)
    return path


def write_cifar10(folder: Path, per_batch: int = 20) -> Path:
    """The six CIFAR-10 python batches (protocol-2 pickles of dicts, as the official archive holds)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        labels = [(j + k) % 10 for j in range(per_batch)]
        data = np.full((per_batch, 3072), 40 + k, dtype=np.uint8)
        batch = {b"batch_label": b"fixture", b"labels": labels, b"data": data, b"filenames": [b"x"] * per_batch}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    return folder


def tree_digest(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its bytes: byte-identical means equal digests."""
    if not root.exists():
        return {}
    if root.is_file():
        return {".": hashlib.sha256(root.read_bytes()).hexdigest()}
    digest = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        digest[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


@dataclass(frozen=True)
class World:
    """Paths of the shared, read-only inputs (cases copy what they change)."""

    root: Path
    fmnist: Path
    oe: Path
    custom: Path
    mvtec: Path
    done: Path  # a finished `fcdd train` folder (class 0, seed 0, 1 epoch)
    search: Path  # a `fcdd tune` folder: best_params.json, study.db, best/ (a finished folder)
    image: Path  # a valid 28x28 greyscale PNG

    @property
    def marker(self) -> Path:
        return self.root / MARKER_NAME

    @property
    def run_dir(self) -> Path:
        return self.done / "runs" / "default" / "normal_0" / "it_0"


def train_args(world: World, *extra: str) -> list[str]:
    """A tiny, valid `fcdd train` command line on the fmnist fixture (1 epoch, class 0, seed 0)."""
    return [
        "train", "--data-dir", str(world.fmnist), "--oe-folder", str(world.oe), "--classes", "0", "--seeds", "1",
        "--epochs", "1", "--batch-size", "8", "--test-limit", "40", "--cpus-per-trial", "1", "--quiet", *extra,
    ]  # fmt: skip


def build_world(root: Path, fmnist: Path, oe: Path) -> World:
    """Write every shared input once (one real training of a few seconds for the finished folders)."""
    from tune.cli import main

    custom = write_custom_tree(root / "custom", size=(40, 30), images=3)
    mvtec = write_mvtec(root / "mvtec")
    image = root / "image.png"
    Image.fromarray(np.full((28, 28), 90, dtype=np.uint8)).save(image)
    world = World(root, fmnist, oe, custom, mvtec, root / "done", root / "search", image)
    assert main([*train_args(world), "--out", str(world.done)]) == 0
    _write_search(world)
    return world


def _write_search(world: World) -> None:
    import optuna

    search = world.search
    shutil.copytree(world.done, search / "best")
    (search / "search").mkdir(parents=True)
    url = f"sqlite:///{search / 'study.db'}"
    study = optuna.create_study(study_name="fmnist-benchmark", storage=url, direction="maximize")
    study.add_trial(
        optuna.trial.create_trial(
            params={"optim.lr": 0.01}, distributions={"optim.lr": optuna.distributions.FloatDistribution(1e-4, 1e-1,
            log=True)}, value=0.8,
        )
    )  # fmt: skip
    best = {"value": 0.8, "params": {"optim.lr": 0.01}, "overrides": {"optim.lr": 0.01}, "trial_number": 0,
            "study": "fmnist-benchmark", "storage": url, "storage_in_folder": True}  # fmt: skip
    (search / "best_params.json").write_text(json.dumps(best))
