"""``fcdd export``: a finished run as an ONNX or TorchScript graph beside its ``model.json`` card.

The graph is the run's :class:`~fcdd.deploy.graph.DetectorGraph`, written in the format's way
(:mod:`fcdd.deploy.formats`). Everything is written into a hidden staging folder beside ``--out``,
loaded back through :func:`fcdd.deploy.load.load_export` and compared with the eager detector on
probe images; only then is the folder renamed into place, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from fcdd import artifacts
from fcdd.deploy.card import CARD_FILE, GRAPH_FILES, INPUT_RANGE, ModelCard, Provenance, Threshold, sha256_bytes
from fcdd.deploy.formats import ONNX_PACKAGES, OPSET, WRITERS, check_format
from fcdd.deploy.graph import DetectorGraph, check_exportable, detector_graph
from fcdd.deploy.load import load_export
from fcdd.explain import TrainedRun, load_trained_run

PARITY_TOLERANCE = 1e-4  # max |Δ| of scores and heatmaps, exported vs eager, in fp32


def probe_images(shape: tuple[int, int, int], count: int, seed: int = 0) -> Tensor:
    """Seeded images with structure on the 0..255 scale (float32, whole grey levels).

    Per image: a wave of its own frequency, phase, brightness and contrast, a block of its own place
    and brightness, and noise. What export traces with and checks parity on: constant images would
    hide a missing LCN, and alike images would hide a missing normalisation.
    """
    channels, height, width = shape
    gen = torch.Generator().manual_seed(seed)

    def draw(*size: int) -> Tensor:
        return torch.rand(*size, generator=gen)

    rows = torch.linspace(0, 1, height).view(1, 1, -1, 1)
    cols = torch.linspace(0, 1, width).view(1, 1, 1, -1)
    wave = torch.sin((1 + 6 * draw(count, channels, 1, 1)) * (rows * 5 + cols * 3) + 6.3 * draw(count, channels, 1, 1))
    x = 0.2 + 0.6 * draw(count, 1, 1, 1) + 0.4 * draw(count, 1, 1, 1) * wave
    for i in range(count):
        top, left = int(draw(1) * height * 2 / 3), int(draw(1) * width * 2 / 3)
        x[i, :, top : top + height // 3, left : left + width // 3] += float(draw(1)) - 0.5
    x = x + 0.2 * draw(count, channels, height, width)
    return (x.clamp(0, 1) * 255).round()


def _versions(fmt: str) -> dict[str, str]:
    import importlib.metadata

    names = ("fcdd", "torch", *(ONNX_PACKAGES if fmt == "onnx" else ()))
    return {name: importlib.metadata.version(name) for name in names}


def _class_name(trained: TrainedRun) -> str | None:
    from fcdd.data.loading import dataset_classes

    try:  # custom and MVTec folders name their classes on disk, which may have moved since training
        return dataset_classes(trained.config.data)[trained.config.data.normal_class]
    except (ValueError, OSError, IndexError):
        return None


def describe(
    run_dir: Path, trained: TrainedRun, detector: DetectorGraph, fmt: str, threshold: Threshold | None
) -> ModelCard:
    """The card of an export of ``run_dir`` (without the graph's sha256, which needs the graph)."""
    from fcdd.runner import fingerprint

    metrics = artifacts.read_metrics(run_dir)
    if metrics is None:
        raise FileNotFoundError(f"{run_dir} has no metrics.json: the run did not finish; finish it before exporting")
    config, prep = trained.config, trained.preprocessing
    return ModelCard(
        format=fmt,
        graph=GRAPH_FILES[fmt],
        objective=config.objective,
        dataset=config.data.dataset,
        normal_class=config.data.normal_class,
        class_name=_class_name(trained),
        preset=None,
        network=config.network.name,
        preprocessing=prep.to_dict(),
        input_shape=tuple(trained.raw_shape),
        input_range=INPUT_RANGE,
        heatmap_shape=(1, *detector.heatmap_size),
        outputs=detector.output_names,
        gauss_std=config.heatmap.gauss_std,
        threshold=threshold,
        run_precision=str(metrics.get("precision") or config.precision),
        metrics=metrics,
        versions=_versions(fmt),
        opset=OPSET if fmt == "onnx" else None,
        provenance=Provenance(
            run_dir=str(run_dir),
            config_fingerprint=fingerprint(config),
            snapshot_sha256=sha256_bytes((run_dir / "snapshot.pt").read_bytes()),
        ),
    )


def max_difference(got: np.ndarray, expected: Tensor) -> float:
    """max |got − expected|, in float64."""
    return float((torch.from_numpy(np.asarray(got)).double() - expected.detach().double()).abs().max())


def check_parity(folder: Path, detector: DetectorGraph, images: Tensor) -> None:
    """Raise unless the export in ``folder`` gives the eager detector's scores and heatmaps to :data:`PARITY_TOLERANCE`.

    Decisions must agree too, except for scores within the tolerance of the threshold.
    """
    with torch.no_grad():
        expected = detector(images)
    got = load_export(folder).predict(images)
    differences = max_difference(got.scores, expected[0]), max_difference(got.heatmaps, expected[1])
    flips = False
    if detector.threshold is not None:
        clear = (expected[0] - detector.threshold).abs() > PARITY_TOLERANCE
        decided = torch.from_numpy(got.anomalous) if got.anomalous is not None else ~expected[2]
        flips = bool((decided != expected[2])[clear].any())
    if not max(differences) <= PARITY_TOLERANCE or flips:
        raise ValueError(
            f"the exported graph does not reproduce the eager model (max |Δ| scores {differences[0]:.2e}, heatmaps "
            f"{differences[1]:.2e}, tolerance {PARITY_TOLERANCE:g}{'; decisions differ' if flips else ''}); "
            "nothing was written"
        )


def write_export(detector: DetectorGraph, card: ModelCard, out: Path) -> ModelCard:
    """Write graph and card into ``out`` through a staging folder, check parity, rename; the sealed card."""
    created = next((p for p in reversed(out.parents) if not p.exists()), None)  # removed again on failure
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".staging", dir=out.parent))
    try:
        WRITERS[card.format](detector, probe_images(detector.raw_shape, 2), staging / card.graph, card.digest())
        sealed = dataclasses.replace(card.provenance, graph_sha256=sha256_bytes((staging / card.graph).read_bytes()))
        card = dataclasses.replace(card, provenance=sealed)
        artifacts.write_json(staging / CARD_FILE, card.to_dict())
        check_parity(staging, detector, probe_images(detector.raw_shape, 3, seed=1))  # another batch size
        _publish(staging, out)
    except BaseException:
        shutil.rmtree(created or staging, ignore_errors=True)
        raise
    return card


def check_target(out: Path) -> None:
    """``out`` can take an export: writable, and absent, empty, or an earlier export (which is replaced)."""
    artifacts.check_writable(out)
    if out.is_dir() and any(out.iterdir()) and not (out / CARD_FILE).is_file():
        raise ValueError(f"--out {out} holds other files; pass a new folder or an earlier export's folder")


def _publish(staging: Path, out: Path) -> None:
    old = None
    if out.exists():  # an earlier export (check_target): moved aside, replaced, then removed
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / out.name)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(staging, 0o777 & ~mask)  # mkdtemp makes 0700; give the folder the usual permissions
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@dataclass(frozen=True)
class Export:
    """A written export: its folder and its card."""

    folder: Path
    card: ModelCard


def export_run(run_dir: str | Path, fmt: str, out: str | Path | None = None, threshold: float | None = None) -> Export:
    """Export the finished run in ``run_dir`` as ``fmt`` into ``out`` (default ``<run>/export-<fmt>``).

    ``threshold``, when given, is baked into the graph: a score strictly above it is anomalous. An
    earlier export in ``out`` is replaced; every error leaves ``out`` as it was.
    """
    check_format(fmt)
    run_dir = Path(run_dir).expanduser().resolve()
    trained = load_trained_run(run_dir, device="cpu")
    check_exportable(trained.config.objective)
    target = Path(out).expanduser().resolve() if out is not None else run_dir / f"export-{fmt}"
    check_target(target)
    given = None if threshold is None else Threshold(method="value", value=float(threshold))
    detector = detector_graph(trained.config, trained.net, trained.preprocessing, trained.raw_shape, threshold)
    return Export(target, write_export(detector, describe(run_dir, trained, detector, fmt, given), target))
