"""Explaining new images with a trained run: anomaly score and heatmap overlay per image."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor, nn

from fcdd import artifacts
from fcdd.config import RunConfig
from fcdd.data.images import convert, open_image
from fcdd.data.preprocess import Preprocessing
from fcdd.engine.evaluate import score_images
from fcdd.engine.runtime import Runtime, resolve_runtime
from fcdd.methods.build import build_model, make_scorer
from fcdd.pictures.normalise import normalise
from fcdd.pictures.render import colourise, overlay, tile_grid, to_display


@dataclass(frozen=True)
class TrainedRun:
    """A finished run loaded for inference."""

    config: RunConfig
    net: nn.Module
    preprocessing: Preprocessing
    raw_shape: tuple[int, int, int]
    heat_scale: tuple[float, float]  # (low, high) of the run's test heatmaps: same colours as its grids
    runtime: Runtime


def load_trained_run(run_dir: str | Path, device: str = "auto") -> TrainedRun:
    """Load ``config.json``, ``preprocessing.json``, ``metrics.json`` and ``snapshot.pt`` of a run folder."""
    run_dir = Path(run_dir)
    needed = [run_dir / name for name in ("config.json", "preprocessing.json", "snapshot.pt")]
    missing = [p.name for p in needed if not p.is_file()]
    if missing == ["snapshot.pt"] and (run_dir / "metrics.json").is_file():
        # Finished, and its network removed afterwards: what `--keep-snapshots best|none` does to runs.
        raise FileNotFoundError(
            f"{run_dir} is a finished run whose snapshot.pt was removed (--keep-snapshots best or none); explain "
            "a run that kept its snapshot, or rerun the plan with --restart --keep-snapshots all"
        )
    if missing:
        raise FileNotFoundError(
            f"{run_dir} is not a finished run folder (missing {', '.join(missing)}); "
            "pass --run <out>/runs/<setting>/normal_<c>/it_<s>"
        )
    config = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    prep = json.loads((run_dir / "preprocessing.json").read_text())
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    # The precision the run was evaluated in: the same image then gets the same score here.
    precision = {"bfloat16": "bf16", "fp32": "fp32"}.get(str(metrics.get("precision")), config.precision)
    runtime = resolve_runtime(device, precision)
    net = build_model(config, pretrained=False)  # the weights come from the snapshot
    fix = "retrain the run (rerun its command with --restart)"
    state = artifacts.read_checkpoint(run_dir / "snapshot.pt", fix=fix)
    try:
        net.load_state_dict(state["net"])
    except (RuntimeError, TypeError, ValueError):
        raise artifacts.CheckpointError(
            f"checkpoint {run_dir / 'snapshot.pt'} holds the weights of another network than {config.network.name}; "
            f"{fix}"
        ) from None
    net.to(runtime.device).eval()
    if runtime.channels_last:
        net.to(memory_format=torch.channels_last)
    scale = metrics.get("heatmap_scale") or [0.0, 1.0]
    return TrainedRun(
        config=config,
        net=net,
        preprocessing=Preprocessing.from_dict(prep["preprocessing"]),
        raw_shape=tuple(prep["raw_shape"]),
        heat_scale=(float(scale[0]), float(scale[1])),
        runtime=runtime,
    )


def read_image(path: Path, raw_shape: tuple[int, int, int]) -> Tensor:
    """Decode an image file into uint8 (1, C, H, W) at the run's raw size (greyscale or RGB)."""
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist")
    channels, height, width = raw_shape
    with open_image(path) as image:
        converted = convert(image, "L" if channels == 1 else "RGB").resize((width, height), Image.Resampling.BILINEAR)
        data = torch.frombuffer(bytearray(converted.tobytes()), dtype=torch.uint8)
    return data.view(height, width, channels).permute(2, 0, 1)[None]


def explain_images(trained: TrainedRun, paths: Sequence[Path], out_dir: Path) -> Iterator[tuple[Path, float, Path]]:
    """For each image: its anomaly score and a PNG (input | heatmap | overlay) written to ``out_dir``.

    All images are decoded before anything is written, so a bad file leaves no partial output.
    """
    images = torch.cat([read_image(Path(p), trained.raw_shape) for p in paths])
    prep = trained.preprocessing
    runtime = trained.runtime
    scorer = make_scorer(trained.config, trained.net)
    scores, maps = score_images(trained.net, images, prep.test, scorer, runtime, batch_size=64)
    inputs = prep.test(images.float())
    heat = scorer.picture(trained.net, maps, (int(inputs.shape[-2]), int(inputs.shape[-1])))
    coloured = colourise(normalise(heat, *trained.heat_scale))
    shown = to_display(inputs)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(paths):
        panel = tile_grid([torch.stack([shown[i], coloured[i], overlay(shown[i : i + 1], coloured[i : i + 1])[0]])])
        written = artifacts.write_png(out_dir / f"{Path(path).stem}_heatmap.png", panel)
        yield Path(path), float(scores[i]), written
