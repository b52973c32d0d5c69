"""The entry point that joins the method to its callers: ``run(config, out_dir) -> RunResult``.

The CLI, the tests and the Ray trainable all call :func:`run`. It loads the data, builds the
network and the anomaly supervisor, trains (checkpointing every epoch and resuming from the
checkpoint it finds), evaluates, and writes the run's files into ``out_dir``:

``config.json``, ``metrics.json`` (written last: its presence means the run finished),
``scores.npz``, ``history.json``, ``roc.png``, ``loss.png``, ``heatmaps_test.png``,
``heatmaps_train.png``, ``preprocessing.json`` and ``snapshot.pt``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from fcdd import outputs
from fcdd.anomalies import OnlineSupervisor
from fcdd.config import RunConfig
from fcdd.data import ADData, load_dataset
from fcdd.data.subsets import subsample
from fcdd.device import resolve_runtime
from fcdd.evaluation import EvalResult, evaluate, evaluate_pixels
from fcdd.figures import heatmap_scale, test_heatmap_grid, train_heatmap_grid
from fcdd.networks import BASELINE_OF, baselines_for, build_baseline_network, build_network, objective_of
from fcdd.scoring import Scorer, make_scorer
from fcdd.supervision import Supervision, make_batcher, prepare_supervision, validation_anomaly_maker
from fcdd.training import EpochCallback, Runtime, TrainState, fit, make_optimizer, make_scheduler
from fcdd.validation import ValidationSet, split_validation

log = logging.getLogger(__name__)

# Settings that may change between a checkpoint and its resumption without invalidating it.
_RESUMABLE_CHANGES = (
    "optim.epochs",
    "eval_every",
    "device",
    "heatmap.n_samples",
    "heatmap.tile_size",
    "heatmap.quantile",
)


@dataclass(frozen=True)
class RunResult:
    """What one run produced."""

    out_dir: Path
    metrics: dict[str, Any]  # auc, epochs, train_seconds, images_per_second, ...
    artifacts: dict[str, Path]  # file role → path
    history: list[dict[str, Any]]  # one EpochReport dict per epoch


class ResumeMismatchError(ValueError):
    """The output folder holds a checkpoint of a run with different settings."""


def run(
    config: RunConfig,
    out_dir: str | Path,
    *,
    on_epoch_end: EpochCallback | None = None,
    resume: bool = True,
    show_progress: bool = False,
) -> RunResult:
    """Train and evaluate one configuration; write its artifacts into ``out_dir``.

    With ``resume`` (default) a ``snapshot.pt`` of the same settings in ``out_dir`` is continued
    from its epoch; without it the run starts over. ``on_epoch_end`` receives an
    :class:`~fcdd.training.EpochReport` after each epoch (and after its checkpoint is written).
    """
    out = Path(out_dir).resolve()
    runtime = resolve_runtime(config.device, config.precision)
    state = _initial_state(config, runtime)  # first: a wrong network fails before any slow loading
    supervision = prepare_supervision(config, _load_data(config), runtime.device)
    validation = None
    if config.data.validation_fraction > 0:
        data, validation = _split_validation(config, supervision)
        supervision = dataclasses.replace(supervision, data=data)
    data, supervisor = supervision.data, supervision.supervisor
    _check_input_shape(state.net, data, config)
    snapshot = out / "snapshot.pt"
    if resume and snapshot.exists():
        _resume(state, snapshot, config)
    out.mkdir(parents=True, exist_ok=True)
    outputs.write_json(out / "config.json", config.to_dict())
    # What `fcdd explain` needs to preprocess new images exactly like this run's test images.
    outputs.write_json(
        out / "preprocessing.json", {"preprocessing": data.preprocessing.to_dict(), "raw_shape": list(data.raw_shape)}
    )

    batcher = make_batcher(config, supervision, runtime.device)
    test_images = data.test_images
    scorer = make_scorer(config.objective, gauss_std=config.heatmap.gauss_std, blur=config.heatmap.blur, net=state.net)

    def evaluate_on(images: torch.Tensor, labels: torch.Tensor) -> EvalResult:
        return evaluate(
            state.net,
            images,
            labels,
            data.preprocessing.test,
            scorer,
            batch_size=config.optim.micro_batch_size or config.optim.batch_size,
            device=runtime.device,
            autocast_dtype=runtime.autocast_dtype,
            channels_last=runtime.channels_last,
        )

    def evaluate_test() -> EvalResult:
        return evaluate_on(test_images, data.test_labels)

    def evaluate_epoch() -> dict[str, float]:
        # With validation data, per-epoch numbers (what searches and early stopping see) never touch the test split.
        if validation is not None:
            return {"val_auc": evaluate_on(validation.images, validation.labels).roc.auc}
        return {"test_auc": evaluate_test().roc.auc}

    def save(s: TrainState) -> None:
        outputs.write_checkpoint(snapshot, {**s.state_dict(), "fingerprint": _fingerprint(config)})

    started = time.perf_counter()
    if runtime.device.type == "cuda":  # per run, also when a reused Ray actor ran another trial before
        torch.cuda.reset_peak_memory_stats(runtime.device)
    epochs_before = state.epoch
    fit(
        state,
        batcher,
        runtime,
        epochs=config.optim.epochs,
        scorer=scorer,
        micro_batch_size=config.optim.micro_batch_size,
        on_epoch_end=on_epoch_end,
        evaluate=evaluate_epoch,
        eval_every=config.eval_every,
        save_checkpoint=save,
        show_progress=show_progress,
    )
    train_seconds = sum(h["seconds"] for h in state.history)
    if state.epoch == epochs_before:  # nothing trained now (epochs=0 or already done): keep a snapshot
        save(state)
    eval_started = time.perf_counter()
    result = evaluate_test()
    pixels = None
    if data.test_mask_files is not None:
        size = tuple(data.input_shape[-2:])
        pixels = evaluate_pixels(
            result.maps,
            result.labels,
            data.test_mask_files,
            lambda m: scorer.upsample(state.net, m, size),
        )
    eval_seconds = time.perf_counter() - eval_started
    scale = heatmap_scale(result, state.net, scorer, tuple(data.input_shape[-2:]), config)
    artifacts = _write_artifacts(out, config, data, state, result, runtime, supervisor, scorer, scale)
    images_seen = sum(h["images_per_second"] * h["seconds"] for h in state.history)
    metrics = {
        "auc": result.roc.auc,
        "epochs": state.epoch,
        "train_seconds": train_seconds,
        "images_per_second": images_seen / train_seconds if train_seconds else float("nan"),
        "eval_seconds": eval_seconds,
        "wall_seconds": time.perf_counter() - started,
        "final_loss": state.history[-1]["loss"] if state.history else float("nan"),
        "normal_class": config.data.normal_class,
        "seed": config.seed,
        "n_train": len(data.train_images),
        "n_test": len(data.test_images),
        "n_test_anomalous": int(data.test_labels.sum()),
        "device": str(runtime.device),
        "precision": str(runtime.autocast_dtype or "fp32").replace("torch.", ""),
        "heatmap_scale": list(scale),
    }
    if runtime.device.type == "cuda":  # what a fractional --gpus-per-trial has to fit next to other trials
        metrics["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated(runtime.device) / 2**20
    if supervision.removed_test_anomalies:
        metrics["removed_test_anomalies"] = supervision.removed_test_anomalies
    if pixels is not None:
        metrics.update(
            pixel_auc=pixels.auc,
            max_score_auc=pixels.max_score_auc,
            anomalous_pixels=pixels.anomalous_pixels,
            pixels=pixels.pixels,
        )
        artifacts["pixel_roc"] = outputs.write_figure(
            out / "pixel_roc.png",
            outputs.roc_figure(
                [(pixels.fpr, pixels.tpr, f"pixel AUC {pixels.auc:.4f}")],
                f"{data.name} class {data.normal_class}: pixels",
            ),
        )
    if validation is not None:
        metrics["val_auc"] = evaluate_on(validation.images, validation.labels).roc.auc
        metrics["validation_anomalies"] = validation.anomaly_source
        metrics["n_validation"] = len(validation.labels)
    artifacts["metrics"] = outputs.write_json(out / "metrics.json", metrics)
    return RunResult(out_dir=out, metrics=metrics, artifacts=artifacts, history=list(state.history))


def _fingerprint(config: RunConfig) -> str:
    return config.fingerprint(ignore=_RESUMABLE_CHANGES)


def _resume(state: TrainState, snapshot: Path, config: RunConfig) -> None:
    saved = outputs.read_checkpoint(snapshot)
    if saved.get("fingerprint") != _fingerprint(config):
        raise ResumeMismatchError(
            f"{snapshot} belongs to a run with other settings; choose another --out or delete that folder"
        )
    state.load_state_dict(saved)
    log.info("resuming %s at epoch %d", snapshot.parent, state.epoch)


def _load_data(config: RunConfig) -> ADData:
    d = config.data
    data = _cached_dataset(
        d.dataset,
        d.data_dir,
        d.normal_class,
        d.preprocessing,
        d.download,
        d.one_vs_rest,
        d.image_size,
        d.ground_truth_maps,
        d.channels,
    )
    return subsample(data, d.train_limit, d.test_limit, seed=config.seed)


@lru_cache(maxsize=2)
def _cached_dataset(
    name: str,
    root: str | None,
    normal_class: int,
    preprocessing: str | None,
    download: bool,
    one_vs_rest: bool,
    image_size: int | None,
    ground_truth_maps: bool,
    channels: int | None,
) -> ADData:
    # One process often runs several seeds of a class in a row; decoding once is enough.
    return load_dataset(
        name,
        root,
        normal_class,
        preprocessing=preprocessing,
        download=download,
        one_vs_rest=one_vs_rest,
        image_size=image_size,
        ground_truth_maps=ground_truth_maps,
        channels=channels,
    )


def _split_validation(config: RunConfig, supervision: Supervision) -> tuple[ADData, ValidationSet]:
    maker, name = validation_anomaly_maker(config, supervision)
    data, validation = split_validation(
        supervision.data,
        config.data.validation_fraction,
        seed=config.seed,
        make_anomalies=lambda images, generator: maker(images, generator).images,
        proxy_name=name,
    )
    if data.train_label == 1:  # the held-out training images are the anomalous side here
        validation = dataclasses.replace(validation, labels=1 - validation.labels)
    return data, validation


def _check_input_shape(net: torch.nn.Module, data: ADData, config: RunConfig) -> None:
    if tuple(net.input_shape) != tuple(data.input_shape):
        raise ValueError(
            f"network {config.network.name} takes inputs of shape {tuple(net.input_shape)} but {data.name} gives "
            f"{tuple(data.input_shape)}; pick a matching --net (see `fcdd nets`) or --image-size"
        )


def build_model(config: RunConfig, *, pretrained: bool | None = None) -> torch.nn.Module:
    """The network of a config: an FCDD net, or the HSC/AE baseline net its objective needs."""
    n = config.network
    use_pretrained = n.pretrained if pretrained is None else pretrained
    weights = n.weights if use_pretrained else None
    if config.objective == "fcdd":
        net = build_network(n.name, bias=n.bias, pretrained=use_pretrained, weights=weights)
    else:
        if n.name in BASELINE_OF:
            hsc, ae = baselines_for(n.name)
            raise ValueError(
                f"--net {n.name} is an FCDD network; objective {config.objective} needs "
                f"{hsc if config.objective == 'hsc' else ae} (or use `fcdd train --baselines`)"
            )
        net = build_baseline_network(n.name, bias=n.bias, pretrained=use_pretrained, weights=weights)
    if objective_of(net) != config.objective:
        raise ValueError(f"--net {n.name} is a network for objective {objective_of(net)}, not {config.objective}")
    return net


def _initial_state(config: RunConfig, runtime: Runtime) -> TrainState:
    # Weight initialisation draws from the global RNG inside torch.nn; fork it so the run's seed
    # decides the weights without leaking a global seed into the caller's process.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = build_model(config)
    net = net.to(runtime.device)
    if runtime.channels_last:
        net = net.to(memory_format=torch.channels_last)
    optimizer = make_optimizer([p for p in net.parameters() if p.requires_grad], config.optim)
    scheduler = make_scheduler(optimizer, config.optim)
    generator = torch.Generator(device=runtime.device).manual_seed(config.seed)
    return TrainState(net=net, optimizer=optimizer, scheduler=scheduler, generator=generator)


def _write_artifacts(
    out: Path,
    config: RunConfig,
    data: ADData,
    state: TrainState,
    result: EvalResult,
    runtime: Runtime,
    supervisor: OnlineSupervisor,
    scorer: Scorer,
    scale: tuple[float, float],
) -> dict[str, Path]:
    artifacts: dict[str, Path] = {}
    artifacts["scores"] = outputs.write_npz(
        out / "scores.npz",
        score=result.scores.numpy(),
        label=result.labels.numpy(),
        original_class=data.test_classes.numpy(),
    )
    artifacts["history"] = outputs.write_json(out / "history.json", state.history)
    auc = result.roc.auc
    artifacts["roc"] = outputs.write_figure(
        out / "roc.png",
        outputs.roc_figure(
            [(result.roc.fpr, result.roc.tpr, f"AUC {auc:.4f}")],
            f"{data.name} class {data.normal_class} ({data.class_names[data.normal_class]}), seed {config.seed}",
        ),
    )
    if state.history:
        artifacts["loss"] = outputs.write_figure(out / "loss.png", outputs.loss_figure(state.history))
    image, labels, margin = test_heatmap_grid(data, result, state.net, scorer, config, scale)
    artifacts["heatmaps_test"] = outputs.write_png(out / "heatmaps_test.png", image, labels, margin)
    image, labels, margin = train_heatmap_grid(data, state.net, supervisor, scorer, config, runtime)
    artifacts["heatmaps_train"] = outputs.write_png(out / "heatmaps_train.png", image, labels, margin)
    artifacts["config"] = out / "config.json"
    artifacts["snapshot"] = out / "snapshot.pt"
    artifacts["preprocessing"] = out / "preprocessing.json"
    return artifacts


def read_metrics(run_dir: str | Path) -> dict[str, Any] | None:
    """The metrics of a finished run folder, or None when the run did not finish."""
    path = Path(run_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None
