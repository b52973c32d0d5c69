"""The entry point that joins the method to its callers: ``run(config, out_dir) -> RunResult``.

The experiment runners (serial and Ray), the tests and Python users all call :func:`run`. It
prepares the run (network first, then data, anomaly supervision, validation split, checkpoint),
trains (checkpointing every epoch and resuming from the checkpoint it finds), evaluates, and
writes the run's files into ``out_dir``:

``config.json``, ``metrics.json`` (written last: its presence means the run finished; schema
:class:`fcdd.metrics.RunMetrics`), ``scores.npz``, ``history.json``, ``roc.png``, ``loss.png``,
``heatmaps_test.png``, ``heatmaps_train.png``, ``preprocessing.json``, ``snapshot.pt`` and, with
masks, ``pixel_roc.png``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from fcdd import artifacts
from fcdd.anomalies.from_config import Supervision, prepare_supervision
from fcdd.config import EXECUTION_KEYS, DataConfig, RunConfig
from fcdd.data.base import ADData
from fcdd.data.loading import load_dataset
from fcdd.data.subsets import subsample
from fcdd.engine.batching import Batcher, make_batcher
from fcdd.engine.evaluate import EvalResult, PixelEvalResult, evaluate, evaluate_pixels
from fcdd.engine.fit import EpochCallback, TrainState, fit, make_optimizer, make_scheduler
from fcdd.engine.floors import pixel_floors
from fcdd.engine.pixel_metrics import MaskFiles, MaskTensor
from fcdd.engine.runtime import Runtime, deterministic_algorithms, resolve_runtime, torch_threads
from fcdd.engine.validation import ValidationSet, hold_out_validation
from fcdd.methods.base import Scorer
from fcdd.methods.build import build_model, make_scorer
from fcdd.metrics import RunMetrics
from fcdd.pictures import plots
from fcdd.pictures.grids import heatmap_scale, test_heatmap_grid, train_heatmap_grid

log = logging.getLogger(__name__)

# Settings that may change between a checkpoint and its resumption without invalidating it: how
# the run executes, how long it trains, how its pictures look.
RESUMABLE_CHANGES = (*EXECUTION_KEYS, "optim.epochs", "heatmap.n_samples", "heatmap.tile_size", "heatmap.quantile")


@dataclass(frozen=True)
class RunResult:
    """What one run produced."""

    out_dir: Path
    metrics: RunMetrics
    artifacts: dict[str, Path]  # file role → path
    history: list[dict[str, Any]]  # one EpochReport dict per epoch


class ResumeMismatchError(ValueError):
    """The output folder holds a checkpoint of a run with different settings."""


@dataclass
class PreparedRun:
    """Everything a run needs once its data, network and anomalies are set up."""

    config: RunConfig
    out: Path
    runtime: Runtime
    state: TrainState
    supervision: Supervision
    validation: ValidationSet | None
    scorer: Scorer
    batcher: Batcher

    @property
    def data(self) -> ADData:
        return self.supervision.data

    def evaluate_on(self, images: torch.Tensor, labels: torch.Tensor) -> EvalResult:
        """Scores, maps and the sample ROC of ``images`` with the run's test preprocessing."""
        batch_size = self.config.optim.micro_batch_size or self.config.optim.batch_size
        transform = self.data.preprocessing.test
        return evaluate(self.state.net, images, labels, transform, self.scorer, self.runtime, batch_size=batch_size)

    def validation_metrics(self) -> dict[str, float]:
        """``val_auc``, and ``val_pixel_auc`` where the validation anomalies carry masks."""
        validation = self.validation
        assert validation is not None
        result = self.evaluate_on(validation.images, validation.labels)
        metrics = {"val_auc": result.roc.auc}
        if validation.masks is not None:
            size = (self.data.input_shape[1], self.data.input_shape[2])

            def upsample(part: slice) -> torch.Tensor:
                return self.scorer.upsample(self.state.net, result.maps[part], size)

            metrics["val_pixel_auc"] = evaluate_pixels(upsample, result.labels, MaskTensor(validation.masks)).auc
        return metrics

    def save_checkpoint(self, state: TrainState) -> None:
        artifacts.write_checkpoint(
            self.out / "snapshot.pt", {**state.state_dict(), "fingerprint": fingerprint(self.config)}
        )


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
    :class:`~fcdd.engine.fit.EpochReport` after each epoch (and after its checkpoint is written).
    ``config.threads`` CPU threads are used for the run, and the process's setting restored after.
    """
    with torch_threads(config.threads) as threads, deterministic_algorithms(config.deterministic):
        prepared = prepare(config, Path(out_dir).resolve(), resume=resume)
        started = time.perf_counter()
        train(prepared, on_epoch_end=on_epoch_end, show_progress=show_progress)
        return finish(prepared, started=started, threads=threads)


def prepare(config: RunConfig, out: Path, *, resume: bool) -> PreparedRun:
    """Build the network (first: a wrong one fails before slow loading), load data and anomalies, resume."""
    runtime = resolve_runtime(config.device, config.precision)
    state = initial_state(config, runtime)
    supervision = prepare_supervision(config, load_data(config), runtime.device)
    validation = None
    if config.data.validation_fraction > 0:
        supervision, validation = hold_out_validation(config, supervision)
    check_input_shape(state.net, supervision.data, config)
    if resume and (out / "snapshot.pt").exists():
        resume_from(state, out / "snapshot.pt", config)
    out.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(out / "config.json", config.to_dict())
    # What `fcdd explain` needs to preprocess new images exactly like this run's test images.
    data = supervision.data
    artifacts.write_json(
        out / "preprocessing.json", {"preprocessing": data.preprocessing.to_dict(), "raw_shape": list(data.raw_shape)}
    )
    return PreparedRun(
        config=config,
        out=out,
        runtime=runtime,
        state=state,
        supervision=supervision,
        validation=validation,
        scorer=make_scorer(config, state.net),
        batcher=make_batcher(config, supervision, runtime.device),
    )


def train(run_: PreparedRun, *, on_epoch_end: EpochCallback | None, show_progress: bool) -> None:
    """The fit loop from the run's current epoch, with per-epoch evaluation where asked for."""

    def evaluate_epoch() -> dict[str, float]:
        # With validation data, per-epoch numbers (what searches and early stopping see) never touch the test split.
        if run_.validation is not None:
            return run_.validation_metrics()
        return {"test_auc": run_.evaluate_on(run_.data.test_images, run_.data.test_labels).roc.auc}

    if run_.runtime.device.type == "cuda":  # per run, also when a reused Ray actor ran another trial before
        torch.cuda.reset_peak_memory_stats(run_.runtime.device)
    epochs_before = run_.state.epoch
    fit(
        run_.state,
        run_.batcher,
        run_.runtime,
        run_.scorer,
        run_.config,
        on_epoch_end=on_epoch_end,
        evaluate=evaluate_epoch,
        save_checkpoint=run_.save_checkpoint,
        show_progress=show_progress,
    )
    if run_.state.epoch == epochs_before:  # nothing trained now (epochs=0 or already done): keep a snapshot
        run_.save_checkpoint(run_.state)


def finish(run_: PreparedRun, *, started: float, threads: int) -> RunResult:
    """Evaluate on the test split (samples, and pixels where there are masks); write every artifact, metrics last."""
    data, state, out = run_.data, run_.state, run_.out
    eval_started = time.perf_counter()
    result = run_.evaluate_on(data.test_images, data.test_labels)
    size = (data.input_shape[1], data.input_shape[2])
    pixels, floors = None, {}
    if data.test_mask_files is not None:
        masks = MaskFiles(data.test_mask_files, center_square=data.mask_files_center_square)

        def upsample(maps: torch.Tensor) -> torch.Tensor:
            return run_.scorer.upsample(state.net, maps, size)

        pixels = evaluate_pixels(lambda part: upsample(result.maps[part]), result.labels, masks)
        floors = pixel_floors(data.train_images, data.test_images, result.labels, masks, result.maps, upsample, size)
    validation = run_.validation_metrics() if run_.validation is not None else {}
    eval_seconds = time.perf_counter() - eval_started
    scale = heatmap_scale(result, state.net, run_.scorer, size, run_.config)
    files = write_artifacts(run_, result, pixels, scale)
    train_seconds = sum(h["seconds"] for h in state.history)
    images_seen = sum(h["images_per_second"] * h["seconds"] for h in state.history)
    metrics = RunMetrics(
        auc=result.roc.auc,
        epochs=state.epoch,
        train_seconds=train_seconds,
        images_per_second=images_seen / train_seconds if train_seconds else float("nan"),
        eval_seconds=eval_seconds,
        wall_seconds=time.perf_counter() - started,
        final_loss=state.history[-1]["loss"] if state.history else float("nan"),
        n_train=len(data.train_images),
        n_test=len(data.test_images),
        n_test_anomalous=int(data.test_labels.sum()),
        device=str(run_.runtime.device),
        precision=run_.runtime.precision,
        threads=threads,
        heatmap_scale=scale,
        removed_test_anomalies=run_.supervision.removed_test_anomalies,
        # What a fractional --gpus-per-trial has to fit next to other trials.
        peak_gpu_memory_mb=(
            torch.cuda.max_memory_allocated(run_.runtime.device) / 2**20 if run_.runtime.device.type == "cuda" else None
        ),
        pixel_auc=None if pixels is None else pixels.auc,
        pixel_aupro=None if pixels is None else pixels.aupro,
        max_score_auc=None if pixels is None else pixels.max_score_auc,
        constant_pixel_auc=floors["constant"].auc if floors else None,
        constant_pixel_aupro=floors["constant"].aupro if floors else None,
        zscore_pixel_auc=floors["zscore"].auc if floors else None,
        zscore_pixel_aupro=floors["zscore"].aupro if floors else None,
        anomalous_pixels=None if pixels is None else pixels.anomalous_pixels,
        pixels=None if pixels is None else pixels.pixels,
        val_auc=validation.get("val_auc"),
        val_pixel_auc=validation.get("val_pixel_auc"),
        n_validation=None if run_.validation is None else len(run_.validation.labels),
        n_validation_anomalous=None if run_.validation is None else int(run_.validation.labels.sum()),
        validation_anomalies=None if run_.validation is None else run_.validation.anomaly_source,
    )
    files["metrics"] = artifacts.write_json(out / "metrics.json", metrics.to_dict())
    return RunResult(out_dir=out, metrics=metrics, artifacts=files, history=list(state.history))


def write_artifacts(
    run_: PreparedRun, result: EvalResult, pixels: PixelEvalResult | None, scale: tuple[float, float]
) -> dict[str, Path]:
    """Scores, history, ROC and loss plots, heatmap grids (all but metrics.json)."""
    config, data, state, out = run_.config, run_.data, run_.state, run_.out
    files: dict[str, Path] = {
        "config": out / "config.json",
        "snapshot": out / "snapshot.pt",
        "preprocessing": out / "preprocessing.json",
    }
    files["scores"] = artifacts.write_npz(
        out / "scores.npz",
        score=result.scores.numpy(),
        label=result.labels.numpy(),
        original_class=data.test_classes.numpy(),
    )
    files["history"] = artifacts.write_json(out / "history.json", state.history)
    title = f"{data.name} class {data.normal_class} ({data.class_names[data.normal_class]}), seed {config.seed}"
    files["roc"] = artifacts.write_figure(
        out / "roc.png", plots.roc_figure([(result.roc.fpr, result.roc.tpr, f"AUC {result.roc.auc:.4f}")], title)
    )
    if state.history:
        files["loss"] = artifacts.write_figure(out / "loss.png", plots.loss_figure(state.history))
    if pixels is not None:
        files["pixel_roc"] = artifacts.write_figure(
            out / "pixel_roc.png",
            plots.roc_figure(
                [(pixels.fpr, pixels.tpr, f"pixel AUC {pixels.auc:.4f}")],
                f"{data.name} class {data.normal_class}: pixels",
            ),
        )
    image, labels, margin = test_heatmap_grid(data, result, state.net, run_.scorer, config, scale)
    files["heatmaps_test"] = artifacts.write_png(out / artifacts.HEATMAP_GRID, image, labels, margin)
    image, labels, margin = train_heatmap_grid(
        data, state.net, run_.supervision.supervisor, run_.scorer, config, run_.runtime
    )
    files["heatmaps_train"] = artifacts.write_png(out / "heatmaps_train.png", image, labels, margin)
    return files


def fingerprint(config: RunConfig) -> str:
    """What a checkpoint records of its settings; a run resumes only a checkpoint with its own."""
    return config.fingerprint(ignore=RESUMABLE_CHANGES)


@dataclass(frozen=True)
class SnapshotScores:
    """What :func:`evaluate_snapshot` measured of a saved network."""

    test_auc: float
    val_auc: float | None  # the last validation AUC the run reported (None without validation)
    epochs: int


def evaluate_snapshot(config: RunConfig, out_dir: str | Path) -> SnapshotScores:
    """The test-split sample AUC of the network in ``out_dir/snapshot.pt`` (a run of ``config``); writes nothing.

    A search measures its own objective with it once the search is over: the test AUC of every
    search trial, also of those its scheduler stopped early, beside the validation AUC it was
    selected on.
    """
    with torch_threads(config.threads), deterministic_algorithms(config.deterministic):
        runtime = resolve_runtime(config.device, config.precision)
        state = initial_state(config, runtime)
        resume_from(state, Path(out_dir) / "snapshot.pt", config)
        # The supervision's data: semi-supervised MVTec moves test anomalies into training.
        data = prepare_supervision(config, load_data(config), runtime.device).data
        batch_size = config.optim.micro_batch_size or config.optim.batch_size
        scorer = make_scorer(config, state.net)
        result = evaluate(state.net, data.test_images, data.test_labels, data.preprocessing.test, scorer, runtime,
                          batch_size=batch_size)  # fmt: skip
    reported = [h["val_auc"] for h in state.history if h.get("val_auc") is not None]
    return SnapshotScores(test_auc=result.roc.auc, val_auc=reported[-1] if reported else None, epochs=state.epoch)


def resume_from(state: TrainState, snapshot: Path, config: RunConfig) -> None:
    """Load a checkpoint of the same settings into ``state``; another run's checkpoint is an error."""
    saved = artifacts.read_checkpoint(snapshot)
    if saved.get("fingerprint") != fingerprint(config):
        raise ResumeMismatchError(
            f"checkpoint {snapshot} belongs to a run with other settings; delete it or pass --restart"
        )
    state.load_state_dict(saved)
    log.info("resuming %s at epoch %d", snapshot.parent, state.epoch)


def load_data(config: RunConfig) -> ADData:
    """The run's data: the dataset's one-vs-rest problem, subsampled where the config limits it."""
    d = config.data
    return subsample(_cached_dataset(_dataset_key(d)), d.train_limit, d.test_limit, seed=config.seed)


def _dataset_key(d: DataConfig) -> DataConfig:
    # The fields that do not change the decoded images, reset, so the cache serves every such run.
    return replace(
        d, train_limit=None, test_limit=None, validation_fraction=0.0, validation_anomalies="auto", epoch_repeats=1
    )


@lru_cache(maxsize=2)
def _cached_dataset(d: DataConfig) -> ADData:
    # One process often runs several seeds of a class in a row; decoding once is enough.
    return load_dataset(d)


def check_input_shape(net: torch.nn.Module, data: ADData, config: RunConfig) -> None:
    """The network must take what the preprocessing makes of the data."""
    shape = tuple(getattr(net, "input_shape", ()))
    if shape != tuple(data.input_shape):
        raise ValueError(
            f"network {config.network.name} takes inputs of shape {shape} but {data.name} gives "
            f"{tuple(data.input_shape)}; pick a matching --net (see `fcdd nets`) or --image-size"
        )


def initial_state(config: RunConfig, runtime: Runtime) -> TrainState:
    """Network, optimiser, scheduler and the run's random stream, all derived from the config's seed."""
    # Weight initialisation draws from the global RNG inside torch.nn; fork it so the run's seed
    # decides the weights without leaking a global seed into the caller's process.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = build_model(config)
    net = net.to(runtime.device)
    if runtime.channels_last:
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = make_optimizer([p for p in net.parameters() if p.requires_grad], config.optim)
    scheduler = make_scheduler(optimizer, config.optim)
    generator = torch.Generator(device=runtime.device).manual_seed(config.seed)
    return TrainState(net=net, optimizer=optimizer, scheduler=scheduler, generator=generator)
