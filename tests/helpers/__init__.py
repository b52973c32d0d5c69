"""Builders shared by the test folders (one home for each): seeded randomness, networks, image folders, benchmark
specs, results-store records, free ports and a decompression-bomb PNG.

Writers of whole dataset trees in their real on-disk layouts live beside this module: :mod:`tests.helpers.mvtec`,
:mod:`tests.helpers.imagenet`, :mod:`tests.helpers.voc`; the supervision tests' pieces in
:mod:`tests.helpers.supervision`. Test modules import from here, never from one another
(``tests/test_architecture.py`` checks).
"""

from __future__ import annotations

import dataclasses
import socket
import struct
import zlib
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


def write_image_junk_tree(root: Path) -> set[str]:
    """Images beside everything an image lister must skip; returns the real images' paths relative to ``root``.

    Listed: nested folders, upper-case extensions, a link to an image. Skipped: macOS AppleDouble
    files (``._x.png``, a few bytes that no decoder reads), a hidden image, an image in a hidden
    folder, a text file, a folder named like an image, a link to a folder, a dangling link. Links
    sit one level down: the ImageNet-22k lister follows linked class folders at the top.
    """
    images = ["a.png", "b/c.JPG", "b/d/e.jpeg", "f.TIFF", "g/h.bmp"]
    for rel in images:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (6, 5), (len(rel) * 20, 90, 10)).save(root / rel)
    (root / "._a.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (root / "b" / "._c.JPG").write_bytes(b"\x00\x05\x16\x07")
    Image.new("RGB", (6, 5)).save(root / ".hidden.png")
    (root / ".thumbs").mkdir()
    Image.new("RGB", (6, 5)).save(root / ".thumbs" / "a.png")
    (root / "notes.txt").write_text("not an image")
    (root / "folder.png").mkdir()
    (root / "g" / "link.png").symlink_to(root / "a.png")
    (root / "g" / "linked").symlink_to(root / "b", target_is_directory=True)
    (root / "g" / "dangling.png").symlink_to(root / "missing.png")
    return {*images, "g/link.png"}


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


def bomb_png(path: Path, side: int = 60_000) -> Path:
    """A PNG whose header declares ``side``² pixels (far above PIL's bomb limit) with a tiny body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 where nothing listens right now (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fmnist_spec(tiny_fmnist: Path, tiny_oe_folder: Path, **extra: Any) -> dict[str, Any]:
    """A benchmark spec (as read from YAML) on the tiny Fashion-MNIST fixture: 2 epochs, 1 CPU per trial, on the CPU.

    ``extra`` adds top-level keys (``classes``, ``search``...); its ``overrides`` add to the spec's overrides.
    """
    extra.setdefault("seeds", 1)
    return {
        "preset": "fmnist",
        "overrides": {
            "data.data_dir": str(tiny_fmnist),
            "anomalies.oe_folder": str(tiny_oe_folder),
            "anomalies.noise_mode": "folder",
            "optim.epochs": 2,
            "optim.batch_size": 32,
            "heatmap.n_samples": 4,
            "device": "cpu",
            **extra.pop("overrides", {}),
        },
        "resources": {"cpus_per_trial": 1},
        **extra,
    }


def layer_plan(net: nn.Module) -> list[str]:
    """A net's layers in order as short words: ``conv5-32`` (kernel, out channels), ``bn``, ``act``, ``pool3/2``."""
    words = []
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            words.append(f"conv{module.kernel_size[0]}-{module.out_channels}")
        elif isinstance(module, nn.BatchNorm2d):
            words.append("bn")
        elif isinstance(module, nn.LeakyReLU | nn.ReLU):
            words.append("act")
        elif isinstance(module, nn.MaxPool2d):
            words.append(f"pool{module.kernel_size}/{module.stride}")
    return words


def report_auc(cls: int, seed: int) -> float:
    """The AUC :func:`write_report_trials` records by default: spread over seeds, distinct per seed up to 10."""
    return 0.5 + 0.04 * ((seed * 7 + cls * 3) % 10)


def write_report_trials(
    root: Path,
    classes: int,
    seeds: int,
    *,
    settings: tuple[str, ...] = ("default",),
    failed: frozenset[tuple[int, int]] = frozenset(),
    auc: Any = report_auc,
) -> Path:
    """A results folder for report tests, without training: a store row per (setting, class, seed) and
    a run folder each with a small ``scores.npz`` and a 4×4 ``heatmaps_test.png`` coloured (class, seed, 100).

    ``failed`` holds the (class, seed) pairs that failed (every setting); ``auc(cls, seed)`` is the
    AUC recorded in the store (the report's tables and gallery picks read it; the ROC figures read
    the scores, random here).
    """
    import numpy as np

    from tune.store import ResultsStore

    store = ResultsStore(root)
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=np.int64)
    for setting in settings:
        for cls in range(classes):
            for seed in range(seeds):
                run_dir = root / "runs" / setting / f"normal_{cls}" / f"it_{seed}"
                common = {"setting": setting, "normal_class": cls, "class_name": f"c{cls}", "seed": seed,
                          "run_dir": str(run_dir)}  # fmt: skip
                if (cls, seed) in failed:
                    error = f"Traceback (most recent call last):\nRuntimeError: seed {seed % 2} is unlucky"
                    store.append(record(f"{setting}-{cls}-{seed}", "failed", error=error, **common))
                    continue
                run_dir.mkdir(parents=True)
                np.savez(run_dir / "scores.npz", score=rng.normal(size=8) + labels, label=labels)
                Image.new("RGB", (4, 4), (cls * 20 % 256, seed % 256, 100)).save(run_dir / "heatmaps_test.png")
                store.append(record(f"{setting}-{cls}-{seed}", auc=auc(cls, seed), epochs=1, **common))
    return root


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
