"""The only module that imports Ray: connecting, the trainable, the Tuner, progress and the results callback.

Each trial is a Ray Tune trial (a Ray actor) that calls the method's one entry point,
:func:`fcdd.runner.run`, with the trial's config, and reports every epoch through
``ray.tune.report``. Trials checkpoint into their own run folders (``snapshot.pt`` every epoch),
so a retried trial, or one interrupted with its driver, resumes where it stopped.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule
from ray.tune.search.optuna import OptunaSearch

from fcdd import outputs
from fcdd.config import RunConfig
from tune.plan import TrialSpec
from tune.remote import RemoteRuns, scratch_dir
from tune.resources import check_placement
from tune.search import search_trial, suggest
from tune.spec import Resources
from tune.store import ResultsStore

log = logging.getLogger(__name__)

PROGRESS_FILE = "progress.json"  # the driver's live view, beside the results store


def connect(address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None) -> None:
    """Join the cluster at ``address`` (or the one ``ray job submit`` runs us in), else start a local Ray."""
    if ray.is_initialized():
        return
    quiet: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address, **quiet)
    else:
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, **quiet)


def node_resources() -> list[dict[str, float]]:
    """Total resources of every alive node."""
    return [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]


def preflight(resources: Resources) -> None:
    """Fail now, with one line, when no node can ever run a trial."""
    check_placement(resources, node_resources())


def _versions() -> dict[str, str]:
    import torch

    import fcdd

    return {"fcdd_version": fcdd.__version__, "torch_version": torch.__version__, "ray_version": ray.__version__}


def _node_id() -> str:
    """The Ray node running this trial: on a cluster every node shares the hostname of its machine or pod."""
    return ray.get_runtime_context().get_node_id()


def _report_epoch(report: Any) -> None:
    metrics = {k: v for k, v in report.to_dict().items() if v is not None}
    tune.report({**metrics, "node_id": _node_id()})


def _run_trial(trial: TrialSpec, out: str, threads: int, storage: str | None = None) -> None:
    """Run one trial inside a Ray worker and report its final metrics.

    With ``storage`` (an object-store URI), the run folder lives in node-local scratch space and is
    synced with ``<storage>/runs/...``: pulled first (resume), pushed after every epoch and at the end.
    """
    import torch

    from fcdd.runner import run

    torch.set_num_threads(max(1, threads))
    on_epoch: Callable[[Any], None] = _report_epoch
    if storage:
        remote, relative = RemoteRuns(storage), trial.run_dir(Path(".")).as_posix()
        run_dir = scratch_dir(trial.trial_id)
        remote.pull(relative, run_dir)

        def on_epoch(report: Any) -> None:
            remote.push(run_dir, relative)  # the epoch's checkpoint survives losing this node
            _report_epoch(report)
    else:
        run_dir = trial.run_dir(out)
    started = time.time()
    try:
        result = run(trial.run_config(), run_dir, on_epoch_end=on_epoch)
        if storage:
            remote.push(run_dir, relative)
    finally:
        if torch.cuda.is_available():  # actors are reused: hand cached GPU memory back for the next trial
            torch.cuda.empty_cache()
    final = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    final.update(
        epoch=result.metrics["epochs"],
        run_dir=str(trial.run_dir(out)),
        node=socket.gethostname(),
        node_id=_node_id(),
        started_unix=started,
        trial_seconds=time.time() - started,
        done_marker=1,
    )
    tune.report(final)


def benchmark_trainable(config: dict[str, Any]) -> None:
    """Ray trainable of `fcdd benchmark`: one planned trial."""
    _run_trial(TrialSpec.from_dict(config["trial"]), config["out"], config["threads"], config.get("storage"))


def search_trainable(config: dict[str, Any]) -> None:
    """Ray trainable of `fcdd tune`: the search base config plus the parameters Optuna sampled."""
    params = {k: v for k, v in config.items() if k not in _SEARCH_CONSTANTS}
    trial = search_trial(RunConfig.from_flat(config["base"]), params)
    _run_trial(trial, config["out"], config["threads"], config.get("storage"))


_SEARCH_CONSTANTS = ("base", "out", "threads", "storage")


class ResultsCallback(tune.Callback):
    """Runs in the driver: writes one store row per finished or failed trial and shows progress.

    ``<store root>/progress.json`` says, while the benchmark runs, which trials run on which Ray node
    and at which epoch, plus the counts and the ETA: `watch cat progress.json` on a shared folder.
    """

    def __init__(
        self,
        store: ResultsStore,
        *,
        benchmark: str,
        resources: Resources,
        total: int,
        describe: Callable[[Any], dict[str, Any]],
        fetch: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.fetch = fetch  # brings a finished trial's run folder from remote storage into --out
        self.store = store
        self.benchmark = benchmark
        self.resources = resources
        self.total = total
        self.describe = describe
        self.started = time.time()
        self.seen: set[str] = set()
        self.done: dict[int, int] = {}
        self.totals: dict[int, int] = {}
        self.failed = 0
        self.finished = 0
        self.running: dict[str, dict[str, Any]] = {}
        self._described: dict[str, dict[str, Any]] = {}

    def _info(self, trial: Any) -> dict[str, Any]:
        # A trial's config never changes; describing it builds and validates a RunConfig, so once per trial.
        if trial.trial_id not in self._described:
            self._described[trial.trial_id] = self.describe(trial)
        return self._described[trial.trial_id]

    def _row(self, trial: Any, status: str, error: str | None) -> dict[str, Any]:
        info = self._info(trial)
        result = trial.last_result or {}
        config: RunConfig = info["config"]
        started = result.get("started_unix")
        row: dict[str, Any] = {
            "trial_id": info["trial_id"],
            "benchmark": self.benchmark,
            "setting": info["setting"],
            "dataset": config.data.dataset,
            "normal_class": config.data.normal_class,
            "class_name": info.get("class_name", str(config.data.normal_class)),
            "seed": config.seed,
            "status": status,
            "error": error,
            "attempts": _failures(trial) + (status == "ok"),
            "run_dir": info["run_dir"],
            "cpus": self.resources.cpus_per_trial,
            "gpus": self.resources.gpus_per_trial,
            "node": result.get("node"),
            "node_id": result.get("node_id"),
            "started_at": datetime.fromtimestamp(started, UTC).isoformat() if started else None,
            "finished_at": datetime.now(UTC).isoformat(),
        }
        for key in _METRIC_KEYS:
            row[key] = result.get(key) if status == "ok" else None
        if status == "ok" and row["epochs"] is not None:
            row["epochs"] = int(row["epochs"])
        row.update(_versions())
        row.update({f"config.{k}": v for k, v in config.to_flat().items()})
        return row

    def _eta_seconds(self) -> float | None:
        elapsed = time.time() - self.started
        return elapsed / self.finished * (self.total - self.finished) if self.finished else None

    def _write_progress(self) -> None:
        outputs.write_json(
            self.store.root / PROGRESS_FILE,
            {
                "benchmark": self.benchmark,
                "updated_at": datetime.now(UTC).isoformat(),  # stale when the driver is gone
                "total": self.total,
                "finished": self.finished,
                "failed": self.failed,
                "elapsed_seconds": round(time.time() - self.started, 1),
                "eta_seconds": self._eta_seconds(),
                "running": sorted(self.running.values(), key=lambda r: r["trial_id"]),
            },
        )

    def _progress(self) -> None:
        self._write_progress()
        elapsed = time.time() - self.started
        eta_seconds = self._eta_seconds()
        eta = "?" if eta_seconds is None else f"{eta_seconds:.0f} s"
        per_class = ", ".join(f"class {c}: {self.done.get(c, 0)}/{n}" for c, n in sorted(self.totals.items()))
        log.info(
            "[%d/%d done, %d failed] %s | elapsed %.0f s, ETA %s",
            self.finished,
            self.total,
            self.failed,
            per_class,
            elapsed,
            eta,
        )

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if trial.trial_id not in self.seen:  # a retried trial starts again: count it once
            self.seen.add(trial.trial_id)
            cls = self._info(trial)["config"].data.normal_class
            self.totals[cls] = self.totals.get(cls, 0) + 1

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if result.get("done_marker"):  # the final report; on_trial_complete follows
            return
        described = self._info(trial)
        self.running[trial.trial_id] = {
            "trial_id": described["trial_id"],
            "setting": described["setting"],
            "normal_class": described["config"].data.normal_class,
            "seed": described["config"].seed,
            "node_id": result.get("node_id"),
            "epoch": result.get("epoch"),
            "attempt": _failures(trial) + 1,
        }
        self._write_progress()

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.pop(trial.trial_id, None)  # back in once the retry reports from its new node
        log.warning(
            "trial %s failed (%s); retrying, attempt %d",
            self._info(trial)["trial_id"],
            _error_reason(trial),
            _failures(trial) + 1,
        )

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.pop(trial.trial_id, None)
        if self.fetch is not None:
            self.fetch(self._info(trial))
        self.store.append(self._row(trial, "ok", None))
        self.finished += 1
        cls = self._info(trial)["config"].data.normal_class
        self.done[cls] = self.done.get(cls, 0) + 1
        self._progress()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.pop(trial.trial_id, None)
        reason = _error_reason(trial)
        self.store.append(self._row(trial, "failed", reason))
        self.finished += 1
        self.failed += 1
        log.error("trial %s failed for good: %s", self._info(trial)["trial_id"], reason)
        self._progress()


_METRIC_KEYS = (
    "auc",
    "val_auc",
    "pixel_auc",
    "epochs",
    "train_seconds",
    "eval_seconds",
    "wall_seconds",
    "images_per_second",
    "peak_gpu_memory_mb",
)


def _failures(trial: Any) -> int:
    return int(getattr(getattr(trial, "run_metadata", None), "num_failures", 0) or 0)


def _error_reason(trial: Any) -> str:
    """The last line of the trial's latest traceback: the exception and its message."""
    text = None
    try:  # the driver writes the error file locally first; get_error() reads the copy in storage
        if trial.error_file and Path(trial.error_file).is_file():
            text = Path(trial.error_file).read_text()
        text = text or trial.get_error()
    except Exception:  # the reason is a courtesy; it must never hide the failure itself
        text = None
    if not text:
        return "unknown error (see the trial's error.txt under <out>/ray)"
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip() and not ln.startswith("Failure #")]
    return lines[-1] if lines else str(text)


def _fetcher(out: Path, storage: str | None) -> Callable[[dict[str, Any]], None] | None:
    if not storage:
        return None
    remote = RemoteRuns(storage)

    def fetch(info: dict[str, Any]) -> None:
        local = Path(info["run_dir"])
        remote.pull(local.relative_to(out).as_posix(), local)

    return fetch


def _run_config(out: Path, name: str, max_failures: int, callbacks: list, storage: str | None = None) -> tune.RunConfig:
    return tune.RunConfig(
        name=name,
        storage_path=f"{storage.rstrip('/')}/ray" if storage else str((out / "ray").resolve()),
        verbose=0,
        callbacks=callbacks,
        failure_config=tune.FailureConfig(max_failures=max_failures),
    )


def run_benchmark_trials(
    trials: list[TrialSpec],
    out: Path,
    *,
    benchmark: str,
    resources: Resources,
    max_failures: int,
    class_names: tuple[str, ...],
    storage: str | None = None,
) -> None:
    """Run planned trials as one Tune experiment; every outcome lands in the results store."""
    store = ResultsStore(out)
    by_id = {t.trial_id: t for t in trials}

    def describe(trial: Any) -> dict[str, Any]:
        spec = by_id[trial.config["trial"]["trial_id"]]
        return {
            "trial_id": spec.trial_id,
            "setting": spec.setting,
            "config": spec.run_config(),
            "run_dir": str(spec.run_dir(out)),
            "class_name": class_names[spec.normal_class],
        }

    callback = ResultsCallback(
        store,
        benchmark=benchmark,
        resources=resources,
        total=len(trials),
        describe=describe,
        fetch=_fetcher(out, storage),
    )
    trainable = tune.with_resources(benchmark_trainable, resources.as_ray())
    tuner = tune.Tuner(
        trainable,
        param_space={
            "trial": tune.grid_search([t.to_dict() for t in trials]),
            "out": str(out),
            "threads": max(1, int(resources.cpus_per_trial)),
            "storage": storage,
        },
        # Reused actors keep torch, the decoded dataset and the OE pool loaded between trials:
        # a fresh worker process per trial costs seconds of imports alone.
        tune_config=tune.TuneConfig(reuse_actors=True, trial_dirname_creator=lambda t: t.config["trial"]["trial_id"]),
        run_config=_run_config(out, f"{benchmark}-{time.strftime('%Y%m%d-%H%M%S')}", max_failures, [callback], storage),
    )
    tuner.fit()


class SpaceFunction:
    """Define-by-run space for OptunaSearch: samples only, returns the trial constants.

    A module-level class (not a closure) so Tune can pickle the searcher into its experiment state.
    """

    def __init__(self, space: dict[str, Any], constants: dict[str, Any]) -> None:
        self.space = space
        self.constants = constants

    def __call__(self, trial: Any) -> dict[str, Any]:
        suggest(trial, self.space)
        return self.constants


class PruneAwareOptunaSearch(OptunaSearch):
    """Tells Optuna PRUNED for trials the scheduler stopped before their last epoch.

    Ray's OptunaSearch reports every stopped trial as COMPLETE with its last (early) value. This
    relies on OptunaSearch's private ``_ot_study``/``_ot_trials``/``_completed_trials``, so Ray is
    pinned and a test covers it.
    """

    def __init__(self, *args: Any, max_t: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_t = max_t

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        stopped_early = (
            bool(result)
            and not error
            and not result.get("done_marker")
            and result.get("epoch", self._max_t) < self._max_t
        )
        if stopped_early and trial_id not in self._completed_trials:
            self._ot_study.tell(self._ot_trials[trial_id], state=optuna.trial.TrialState.PRUNED)
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result, error)


def run_search_trials(
    *,
    base: RunConfig,
    space: dict[str, Any],
    n_trials: int,
    out: Path,
    study_name: str,
    storage_url: str,
    resources: Resources,
    max_failures: int,
    scheduler: str,
    grace_epochs: int,
    sampler_seed: int,
    class_names: tuple[str, ...],
    max_concurrent: int,
    remote_storage: str | None = None,
) -> None:
    """Run ``n_trials`` Optuna-sampled trials with early stopping; PRUNED trials are recorded as such."""
    epochs = base.optim.epochs
    constants = {
        "base": base.to_flat(),
        "out": str(out),
        "threads": max(1, int(resources.cpus_per_trial)),
        "storage": remote_storage,
    }

    storage = optuna.storages.RDBStorage(storage_url)
    searcher = PruneAwareOptunaSearch(
        space=SpaceFunction(space, constants),
        max_t=epochs,
        metric="val_auc",
        mode="max",
        study_name=study_name,
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=sampler_seed),
    )
    if scheduler == "asha":
        sched: Any = ASHAScheduler(time_attr="epoch", max_t=epochs, grace_period=grace_epochs, reduction_factor=2)
    elif scheduler == "median":
        sched = MedianStoppingRule(time_attr="epoch", grace_period=grace_epochs, min_samples_required=2)
    else:
        sched = FIFOScheduler()

    store = ResultsStore(out / "search")

    def describe(trial: Any) -> dict[str, Any]:
        spec = search_trial(base, {k: v for k, v in trial.config.items() if k not in constants})
        config = spec.run_config()
        return {
            "trial_id": spec.trial_id,
            "setting": spec.setting,
            "config": config,
            "run_dir": str(spec.run_dir(out)),
            "class_name": class_names[config.data.normal_class],
        }

    callback = ResultsCallback(
        store,
        benchmark=study_name,
        resources=resources,
        total=n_trials,
        describe=describe,
        fetch=_fetcher(out, remote_storage),
    )
    tuner = tune.Tuner(
        tune.with_resources(search_trainable, resources.as_ray()),
        tune_config=tune.TuneConfig(
            metric="val_auc",
            mode="max",
            search_alg=searcher,
            scheduler=sched,
            num_samples=n_trials,
            max_concurrent_trials=max_concurrent,
            reuse_actors=True,
        ),
        run_config=_run_config(
            out, f"{study_name}-{time.strftime('%Y%m%d-%H%M%S')}", max_failures, [callback], remote_storage
        ),
    )
    tuner.fit()
