"""The entry point that joins the method to its callers: ``run(config, out_dir) -> RunResult``.

The CLI, the tests and the Ray trainable all call :func:`run`. It loads the data, builds the
network and the anomaly supervisor, trains (checkpointing every epoch and resuming from the
checkpoint it finds), evaluates, and writes the run's files into ``out_dir``:

``config.json``, ``metrics.json`` (written last: its presence means the run finished),
``scores.npz``, ``history.json``, ``roc.png``, ``loss.png``, ``heatmaps_test.png``,
``heatmaps_train.png``, ``preprocessing.json`` and ``snapshot.pt``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from fcdd import outputs
from fcdd.anomalies import OnlineSupervisor, get_noise_mode, load_cifar100_pool, load_folder_pool
from fcdd.config import SYNTHETIC_NOISE_MODES, RunConfig
from fcdd.data import ADData, load_dataset
from fcdd.device import resolve_runtime
from fcdd.evaluation import EvalResult, evaluate
from fcdd.figures import heatmap_scale, test_heatmap_grid, train_heatmap_grid
from fcdd.networks import build_network
from fcdd.training import Batcher, EpochCallback, Runtime, TrainState, fit, make_optimizer, make_scheduler
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
    if config.objective != "fcdd":
        raise ValueError(
            f"objective {config.objective!r} needs its baseline networks, which this version lacks; "
            "use --objective fcdd"
        )
    out = Path(out_dir).resolve()
    runtime = resolve_runtime(config.device, config.precision)
    data = _load_data(config)
    supervisor = _make_supervisor(config, data, runtime.device)
    validation = None
    if config.data.validation_fraction > 0:
        data, validation = _split_validation(config, data)
    state = _initial_state(config, runtime)
    snapshot = out / "snapshot.pt"
    if resume and snapshot.exists():
        _resume(state, snapshot, config)
    out.mkdir(parents=True, exist_ok=True)
    outputs.write_json(out / "config.json", config.to_dict())
    # What `fcdd explain` needs to preprocess new images exactly like this run's test images.
    outputs.write_json(
        out / "preprocessing.json", {"preprocessing": data.preprocessing.to_dict(), "raw_shape": list(data.raw_shape)}
    )

    train_images = data.train_images.to(runtime.device)
    batcher = Batcher(train_images, supervisor, data.preprocessing, config.optim.batch_size)
    test_images = data.test_images

    def evaluate_on(images: torch.Tensor, labels: torch.Tensor) -> EvalResult:
        return evaluate(
            state.net,
            images,
            labels,
            data.preprocessing.test,
            batch_size=max(config.optim.batch_size, 256),
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
    epochs_before = state.epoch
    fit(
        state,
        batcher,
        runtime,
        epochs=config.optim.epochs,
        gauss_std=config.heatmap.gauss_std,
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
    eval_seconds = time.perf_counter() - eval_started
    scale = heatmap_scale(result, state.net, tuple(data.input_shape[-2:]), config)
    artifacts = _write_artifacts(out, config, data, state, result, runtime, supervisor, scale)
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
        d.dataset, d.data_dir, d.normal_class, d.preprocessing, d.download, d.one_vs_rest, d.image_size
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
    )


def subsample(data: ADData, train_limit: int | None, test_limit: int | None, *, seed: int) -> ADData:
    """Shrink a dataset for dry runs: the first ``train_limit`` training images and a seeded
    random test subset of ``test_limit`` images that keeps both labels."""
    import dataclasses

    changes: dict[str, Any] = {}
    if train_limit is not None and train_limit < len(data.train_images):
        changes["train_images"] = data.train_images[:train_limit]
    if test_limit is not None and test_limit < len(data.test_images):
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(data.test_images), generator=generator)
        keep = order[:test_limit]
        for label in (0, 1):  # make sure each label is represented
            if not (data.test_labels[keep] == label).any():
                first = order[data.test_labels[order] == label][:1]
                keep = torch.cat([keep[: len(keep) - len(first)], first])
        keep = keep.sort().values
        changes.update(
            test_images=data.test_images[keep], test_labels=data.test_labels[keep], test_classes=data.test_classes[keep]
        )
    return dataclasses.replace(data, **changes) if changes else data


def _anomaly_source(config: RunConfig, data: ADData, device: torch.device) -> Any:
    a = config.anomalies
    if a.noise_mode in SYNTHETIC_NOISE_MODES:
        return get_noise_mode(a.noise_mode)
    if a.noise_mode == "folder":
        return _cached_folder_pool(str(a.oe_folder), data.raw_shape, a.oe_limit, config.seed).to(device)
    return load_cifar100_pool(
        config.data.data_dir or ".", data.raw_shape, limit=a.oe_limit, seed=config.seed, download=config.data.download
    ).to(device)


def _make_supervisor(config: RunConfig, data: ADData, device: torch.device) -> OnlineSupervisor:
    a = config.anomalies
    if a.supervise_mode == "unsupervised":
        return OnlineSupervisor("unsupervised", None, p=a.p)
    return OnlineSupervisor(a.supervise_mode, _anomaly_source(config, data, device), p=a.p)


def _split_validation(config: RunConfig, data: ADData) -> tuple[ADData, ValidationSet]:
    a = config.anomalies
    if a.supervise_mode == "unsupervised":  # nothing to imitate: confetti-malformed images as the proxy
        maker, name = (
            OnlineSupervisor("malformed_normal", get_noise_mode("confetti"), p=1.0),
            "malformed_normal/confetti",
        )
    else:
        maker = OnlineSupervisor(a.supervise_mode, _anomaly_source(config, data, torch.device("cpu")), p=1.0)
        name = f"{a.supervise_mode}/{a.noise_mode}"
    return split_validation(
        data,
        config.data.validation_fraction,
        seed=config.seed,
        make_anomalies=lambda images, generator: maker(images, generator).images,
        proxy_name=name,
    )


@lru_cache(maxsize=2)
def _cached_folder_pool(folder: str, shape: tuple[int, int, int], limit: int | None, seed: int):
    # The same OE folder serves every class and seed of a benchmark process.
    return load_folder_pool(folder, shape, limit=limit, seed=seed if limit is not None else 0)


def _initial_state(config: RunConfig, runtime: Runtime) -> TrainState:
    n = config.network
    # Weight initialisation draws from the global RNG inside torch.nn; fork it so the run's seed
    # decides the weights without leaking a global seed into the caller's process.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = build_network(n.name, bias=n.bias, pretrained=n.pretrained, weights=n.weights)
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
    image, labels, margin = test_heatmap_grid(data, result, state.net, config, scale)
    artifacts["heatmaps_test"] = outputs.write_png(out / "heatmaps_test.png", image, labels, margin)
    image, labels, margin = train_heatmap_grid(data, state.net, supervisor, config, runtime)
    artifacts["heatmaps_train"] = outputs.write_png(out / "heatmaps_train.png", image, labels, margin)
    artifacts["config"] = out / "config.json"
    artifacts["snapshot"] = out / "snapshot.pt"
    artifacts["preprocessing"] = out / "preprocessing.json"
    return artifacts


def read_metrics(run_dir: str | Path) -> dict[str, Any] | None:
    """The metrics of a finished run folder, or None when the run did not finish."""
    path = Path(run_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None
