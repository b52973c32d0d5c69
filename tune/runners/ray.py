"""The Ray runner, and the only module that imports Ray: connecting, the trainables, the Tuner,
the driver-side callback, and the Optuna search.

Each trial is a Ray Tune trial (a Ray actor) that calls the method's one entry point,
:func:`fcdd.run`, with the trial's config, and reports every epoch through ``ray.tune.report``.
Trials checkpoint into their own run folders (``snapshot.pt`` every epoch), so a retried trial,
or one interrupted with its driver, resumes where it stopped. The callback in the driver writes
one :class:`~tune.store.TrialRecord` per trial, with the wall time of every attempt.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Ray Tune's own Ctrl-C handling ends `Tuner.fit()` quietly (exit 0) and suggests its
# `Tuner.restore`; fcdd resumes by rerunning the same command, so Ctrl-C interrupts at once.
os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")

# Ray's module is `raytune` here, never `tune`: that name is this package (and Ray's RunConfig is not fcdd's).
import optuna  # noqa: E402
import ray  # noqa: E402
from ray import tune as raytune  # noqa: E402
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule, TrialScheduler  # noqa: E402
from ray.tune.search.optuna import OptunaSearch  # noqa: E402

from fcdd.artifacts import HEATMAP_GRID  # noqa: E402
from fcdd.cli import handle_termination  # noqa: E402
from fcdd.config import RunConfig
from fcdd.metrics import RunMetrics
from tune.outdir import ARTIFACTS_DIR
from tune.plan import TrialSpec
from tune.progress_file import Progress
from tune.remote import RemoteRuns, check_storage, scratch_dir
from tune.resources import GpuProbeError, check_placement, measured, probe_failure, probe_summary
from tune.runners.base import BenchmarkTrials, make_record
from tune.search_goals import GOALS, goal_values, gpu_seconds
from tune.search_trials import search_trial, suggest
from tune.spec import BenchmarkSpec, Resources, SearchSpec
from tune.store import ResultsStore

log = logging.getLogger(__name__)


def connect(address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None) -> None:
    """Join the cluster at ``address`` (or the one ``ray job submit`` runs us in), else start a local Ray."""
    if ray.is_initialized():
        return
    quiet: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address, **quiet)
    else:
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, **quiet)
    handle_termination()  # ray.init made SIGTERM a bare sys.exit; ours says how to resume


def node_resources() -> list[dict[str, float]]:
    """Total resources of every alive node."""
    return [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]


def _node_id() -> str:
    """The Ray node running this trial: on a cluster every node shares the hostname of its machine or pod."""
    return str(ray.get_runtime_context().get_node_id())


def _probe_on_gpu(probe: Callable[[RunConfig], Any], config: dict[str, Any]) -> Any:
    """Ray task holding one whole GPU: ``probe`` (:func:`fcdd.probe.probe_peak_memory`) of one trial's config."""
    return probe(RunConfig.from_flat(config))


def _gpu_share() -> float:
    """The GPUs Ray gave this trial (0 on a CPU-only trial): what its `gpu_seconds` are charged at."""
    return float(ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0))


class _EpochReporter:
    """Reports every epoch but the last to Tune, with the trial's cost so far (``gpu_seconds``)."""

    def __init__(self) -> None:
        self.train_seconds = 0.0

    def __call__(self, report: Any) -> None:
        self.train_seconds += report.seconds
        # The last epoch rides in the final report: a scheduler that stops a trial when it reaches its
        # last epoch (ASHA at max_t) would otherwise stop it before the run wrote and reported its metrics.
        if report.epoch >= report.epochs:
            return
        metrics = {k: v for k, v in report.to_dict().items() if v is not None}
        cost = gpu_seconds(self.train_seconds, _gpu_share())
        raytune.report({**metrics, "gpu_seconds": cost, "node_id": _node_id()})


def _run_trial(trial: TrialSpec, out: str, storage: str | None) -> None:
    """Run one trial inside a Ray worker and report its final metrics.

    With ``storage`` (an object-store URI), the run folder lives in node-local scratch space and is
    synced with ``<storage>/runs/...``: pulled first (resume), pushed after every epoch and at the end.
    A retry resumes from the failed attempt's checkpoint.
    """
    import torch

    from fcdd.runner import run

    report_epoch = _EpochReporter()
    on_epoch: Callable[[Any], None] = report_epoch
    if storage:
        remote, relative = RemoteRuns(storage), trial.run_dir(Path(".")).as_posix()
        run_dir = scratch_dir(trial.trial_id)
        remote.pull(relative, run_dir)

        def on_epoch(report: Any) -> None:
            remote.push(run_dir, relative)  # the epoch's checkpoint survives losing this node
            report_epoch(report)
    else:
        run_dir = trial.run_dir(out)
    try:
        result = run(trial.run_config(), run_dir, on_epoch_end=on_epoch)
        if storage:
            remote.push(run_dir, relative)
    finally:
        if torch.cuda.is_available():  # actors are reused: hand cached GPU memory back for the next trial
            torch.cuda.empty_cache()
    # Flat: Tune flattens nested results on some paths (searchers), and reads the objective at the top.
    final = {key: value for key, value in result.metrics.to_dict().items() if value is not None}
    raytune.report(
        {
            **final,
            "epoch": result.metrics.epochs,
            "gpu_seconds": gpu_seconds(result.metrics.train_seconds, _gpu_share()),
            "node": socket.gethostname(),
            "node_id": _node_id(),
            "done_marker": 1,
        }
    )


def benchmark_trainable(config: dict[str, Any]) -> None:
    """Ray trainable of `fcdd benchmark`: one planned trial."""
    _run_trial(TrialSpec.from_dict(config["trial"]), config["out"], config.get("storage"))


def together_trainable(config: dict[str, Any]) -> None:
    """Ray trainable of a suite on Ray: one trial of one of its benchmarks, run into that benchmark's folder."""
    job = config["job"]
    _run_trial(TrialSpec.from_dict(job["trial"]), job["out"], job.get("storage"))


_SEARCH_CONSTANTS = ("base", "out", "storage")


def search_trainable(config: dict[str, Any]) -> None:
    """Ray trainable of `fcdd tune`: the search base config plus the parameters Optuna sampled."""
    params = {k: v for k, v in config.items() if k not in _SEARCH_CONSTANTS}
    trial = search_trial(RunConfig.from_flat(config["base"]), params)
    _run_trial(trial, config["out"], config.get("storage"))


class ResultsCallback(raytune.Callback):
    """Runs in the driver: one store record per finished or failed trial, attempt times, progress."""

    def __init__(
        self,
        store: ResultsStore,
        spec: BenchmarkSpec,
        progress: Progress,
        describe: Callable[[Any], TrialSpec],
        fetch: Callable[[TrialSpec], None] | None = None,
    ) -> None:
        self.store = store
        self.spec = spec
        self.progress = progress
        self.describe_trial = describe
        self.fetch = fetch  # brings a finished trial's run folder from remote storage into --out
        self._described: dict[str, TrialSpec] = {}
        self._first_start: dict[str, float] = {}
        self._attempt_start: dict[str, float] = {}
        self._seconds: dict[str, list[float]] = {}

    def _trial(self, trial: Any) -> TrialSpec:
        # A trial's config never changes; describing it builds and validates a RunConfig, so once per trial.
        if trial.trial_id not in self._described:
            self._described[trial.trial_id] = self.describe_trial(trial)
        return self._described[trial.trial_id]

    def _end_attempt(self, trial: Any) -> None:
        started = self._attempt_start.pop(trial.trial_id, None)
        if started is not None:
            self._seconds.setdefault(trial.trial_id, []).append(time.time() - started)

    def _record(self, trial: Any, metrics: RunMetrics | None, error: str | None, status: str | None = None) -> None:
        result = trial.last_result or {}
        self.store.append(
            make_record(
                self._trial(trial),
                self.spec,
                self.store.root,
                runner="ray",
                metrics=metrics,
                error=error,
                status=status,
                attempt_seconds=self._seconds.get(trial.trial_id, []),
                started=self._first_start.get(trial.trial_id),
                node=result.get("node"),
                node_id=result.get("node_id"),
            )
        )

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        now = time.time()
        self._first_start.setdefault(trial.trial_id, now)
        self._attempt_start[trial.trial_id] = now
        self.progress.trial_started(self._trial(trial), attempt=_failures(trial) + 1)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if result.get("done_marker"):  # the final report; on_trial_complete follows
            return
        self.progress.epoch_done(
            self._trial(trial), epoch=int(result.get("epoch", 0)), attempt=_failures(trial) + 1,
            node_id=result.get("node_id"),
        )  # fmt: skip

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end_attempt(trial)
        self.progress.attempt_failed(self._trial(trial))
        log.warning(
            "trial %s failed (%s); retrying, attempt %d",
            self._trial(trial).trial_id,
            _error_reason(trial),
            _failures(trial) + 1,
        )

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end_attempt(trial)
        spec = self._trial(trial)
        if self.fetch is not None:
            self.fetch(spec)
        last = trial.last_result or {}
        if not last.get("done_marker"):  # stopped early by the scheduler: the last epoch's report, no final metrics
            why = f"stopped by the search scheduler after epoch {last.get('epoch')} (val_auc {last.get('val_auc')})"
            self._record(trial, None, why, status="pruned")
            self.progress.trial_finished(spec, ok=True)
            return
        self._record(trial, RunMetrics.from_dict(last), None)
        self.progress.trial_finished(spec, ok=True)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end_attempt(trial)
        reason = _error_reason(trial)
        self._record(trial, None, reason)
        log.error("trial %s failed for good: %s", self._trial(trial).trial_id, reason)
        self.progress.trial_finished(self._trial(trial), ok=False)


class RoutedCallback(raytune.Callback):
    """Runs in the driver of a suite: hands each trial's events to its own benchmark's :class:`ResultsCallback`."""

    def __init__(self, by_folder: dict[str, ResultsCallback]) -> None:
        self.by_folder = by_folder

    def _owner(self, trial: Any) -> ResultsCallback:
        return self.by_folder[trial.config["job"]["out"]]

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._owner(trial).on_trial_start(iteration, trials, trial, **info)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._owner(trial).on_trial_result(iteration, trials, trial, result, **info)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._owner(trial).on_trial_recover(iteration, trials, trial, **info)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._owner(trial).on_trial_complete(iteration, trials, trial, **info)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._owner(trial).on_trial_error(iteration, trials, trial, **info)


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


def _fetcher(out: Path, storage: str | None) -> Callable[[TrialSpec], None] | None:
    if not storage:
        return None
    remote = RemoteRuns(storage)

    def fetch(trial: TrialSpec) -> None:
        remote.pull(trial.run_dir(Path(".")).as_posix(), trial.run_dir(out))

    return fetch


def _run_config(
    out: Path, name: str, max_failures: int, callbacks: list, storage: str | None = None
) -> raytune.RunConfig:
    return raytune.RunConfig(
        name=f"{name}-{time.strftime('%Y%m%d-%H%M%S')}",
        storage_path=f"{storage.rstrip('/')}/ray" if storage else str((out / "ray").resolve()),
        verbose=0,
        callbacks=callbacks,
        failure_config=raytune.FailureConfig(max_failures=max_failures),
    )


class _SuiteTrials:
    """Which planned trial a Tune trial of a suite is, among one benchmark's trials."""

    def __init__(self, trials: list[TrialSpec]) -> None:
        self.by_id = {t.trial_id: t for t in trials}

    def __call__(self, trial: Any) -> TrialSpec:
        return self.by_id[trial.config["job"]["trial"]["trial_id"]]


def _suite_dirname(trial: Any) -> str:
    """A suite trial's folder under ``ray/``: its benchmark, then its id (one config may be in two benchmarks)."""
    job = trial.config["job"]
    return f"{job['benchmark']}-{job['trial']['trial_id']}"


class PruneAwareOptunaSearch(OptunaSearch):
    """Tells Optuna PRUNED for trials the scheduler stopped before their last epoch.

    Ray's OptunaSearch reports every stopped trial as COMPLETE with its last (early) value. This
    relies on OptunaSearch's private ``_ot_study``/``_ot_trials``/``_completed_trials``, so Ray is
    pinned and a test covers it.
    """

    def __init__(
        self,
        *args: Any,
        max_t: int,
        goals: tuple[str, ...] = ("val_auc",),
        attach: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._max_t = max_t
        self._goals = goals
        self._attach = attach  # uploads a finished trial's artifacts to its Optuna trial (before it is told)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials:
            return
        ot_trial = self._ot_trials[trial_id]  # type: ignore[attr-defined]
        stopped_early = (
            result is not None
            and not error
            and not result.get("done_marker")
            and result.get("epoch", self._max_t) < self._max_t
        )
        if self._attach is not None and not error:
            try:  # the picture is a courtesy: a failed upload must not lose the trial's result
                self._attach(ot_trial)
            except Exception as failure:
                log.warning("could not attach the heatmaps of search trial %s to the study: %s", trial_id, failure)
        if stopped_early:
            self._ot_study.tell(ot_trial, state=optuna.trial.TrialState.PRUNED)  # type: ignore[attr-defined]
            self._completed_trials.add(trial_id)
            return
        values = goal_values(result, self._goals) if result is not None and not error else []
        if None in values:
            # Ray would tell Optuna a None and leave the trial RUNNING for good.
            missing = [o for o, v in zip(self._goals, values, strict=True) if v is None]
            log.warning("search trial %s reported no finite %s; told FAIL", trial_id, ", ".join(missing))
            self._ot_study.tell(ot_trial, state=optuna.trial.TrialState.FAIL)  # type: ignore[attr-defined]
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result, error)


class HeatmapUploader:
    """Uploads a search trial's heatmap grid to its Optuna trial, in the artifact store beside the study.

    ``optuna-dashboard STUDY_URL --artifact-dir <out>/artifacts`` then shows the explanation
    beside each trial's objective. With remote storage the run folder is fetched first. A
    module-level class, not a closure: Tune pickles the searcher into its experiment state.
    """

    def __init__(self, base: RunConfig, out: Path, storage: str | None) -> None:
        self.base, self.out, self.storage = base, out, storage

    def __call__(self, ot_trial: Any) -> None:
        from optuna.artifacts import FileSystemArtifactStore, upload_artifact

        planned = search_trial(self.base, ot_trial.params)
        run_dir = planned.run_dir(self.out / "search")
        if self.storage:
            RemoteRuns(self.storage).pull(planned.run_dir(Path(".")).as_posix(), run_dir)
        picture = run_dir / HEATMAP_GRID
        if not picture.is_file():  # stopped before its final evaluation drew one
            return
        folder = self.out / ARTIFACTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        upload_artifact(artifact_store=FileSystemArtifactStore(str(folder)), file_path=str(picture),
                        study_or_trial=ot_trial)  # fmt: skip


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


def _searcher(
    spec: BenchmarkSpec, base: RunConfig, out: Path, constants: dict[str, Any], *, storage_url: str, sampler_seed: int
) -> PruneAwareOptunaSearch:
    """The Optuna searcher of a search: TPE over ``spec.search.space`` toward its goals, in the study.

    ``constants`` are what every sampled trial's config carries besides the parameters (base, out, storage).
    """
    search = spec.search
    many = len(search.optimize) > 1
    if "val_pixel_auc" in search.optimize:
        # Where a trial's validation anomalies turn out to carry no masks it reports no
        # val_pixel_auc; the searcher tells that trial FAIL, rather than Tune stopping the search.
        os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
    directions = [GOALS[o].direction for o in search.optimize]
    return PruneAwareOptunaSearch(
        space=SpaceFunction(search.space, constants),
        max_t=base.optim.epochs,
        goals=search.optimize,
        attach=HeatmapUploader(base, out, constants["storage"]),
        metric=list(search.optimize) if many else search.optimize[0],
        mode=directions if many else directions[0],
        study_name=spec.name,
        storage=optuna.storages.RDBStorage(storage_url),
        sampler=optuna.samplers.TPESampler(seed=sampler_seed),
    )


def _scheduler(search: SearchSpec, epochs: int) -> TrialScheduler:
    """The early-stopping scheduler ``search.scheduler`` names, on the per-epoch validation AUC."""
    if search.scheduler == "asha":
        return ASHAScheduler(time_attr="epoch", max_t=epochs, grace_period=search.grace_epochs, reduction_factor=2)
    if search.scheduler == "median":
        return MedianStoppingRule(time_attr="epoch", grace_period=search.grace_epochs, min_samples_required=2)
    return FIFOScheduler()


class RayRunner:
    """Trials as Ray Tune trials on an embedded local Ray, or the cluster at ``address``.

    ``remote_storage`` (an object-store URI) keeps run folders there instead of in a folder every
    node shares; ``check_resources`` refuses a plan no node can hold before anything starts.
    ``gpu_probe`` measures a trial's GPU memory for ``--gpus-per-trial auto`` (default
    :func:`fcdd.probe.probe_peak_memory`; tests pass a stand-in, Ray ships it to the GPU node).
    """

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        remote_storage: str | None = None,
        check_resources: bool = True,
        gpu_probe: Callable[[RunConfig], Any] | None = None,
    ) -> None:
        self.address = address
        self.remote_storage = remote_storage
        self.check_resources = check_resources
        self.gpu_probe = gpu_probe

    def prepare(self, spec: BenchmarkSpec) -> None:
        """Open the remote storage (a bad URI fails here), connect to Ray, check that some node can hold a trial."""
        from tune.preflight import check_address

        check_address(self.address or os.environ.get("RAY_ADDRESS"))
        if self.remote_storage:
            check_storage(self.remote_storage)
        connect(self.address)
        if self.check_resources:
            check_placement(spec.resources, node_resources())

    def resolve_gpus(self, spec: BenchmarkSpec, trial: str, config: RunConfig) -> BenchmarkSpec:
        """``--gpus-per-trial auto``: probe ``config`` (``trial``, in words) on a GPU node; the spec with its share.

        The probe is a Ray task holding one whole GPU and the trial's CPUs, in a worker that exits
        after it (its CUDA context must not sit on the GPU beside the trials). A spec whose share
        is already a number comes back unchanged; the trial ids never depend on it.
        """
        resources = spec.resources
        if not resources.gpus_unmeasured:
            return spec
        probe = self.gpu_probe
        if probe is None:
            from fcdd.probe import probe_peak_memory

            probe = probe_peak_memory
        task = ray.remote(num_cpus=resources.cpus_per_trial, num_gpus=1, max_calls=1, max_retries=0)(_probe_on_gpu)
        if not any(node.get("GPU", 0.0) >= 1 for node in node_resources()):  # --skip-resource-check, autoscaling
            log.warning("gpus-per-trial auto: no GPU node yet; the probe waits for one to start")
        try:
            found = ray.get(task.remote(probe, config.to_flat()))
        except ray.exceptions.RayTaskError as error:
            raise GpuProbeError(probe_failure(trial, error.cause)) from None
        resolved = measured(resources, trial, found.peak_bytes, found.total_bytes, str(found.device_name))
        assert resolved.probe is not None
        log_line = log.warning if resolved.probe.trials_per_gpu == 0 else log.info
        log_line("%s", probe_summary(resolved.probe, resolved.gpus_per_trial))
        return dataclasses.replace(spec, resources=resolved)

    def for_subfolder(self, name: str) -> RayRunner:
        """The same runner for a sub-folder of the results (`fcdd tune`'s ``best/``), remote storage alike."""
        remote = f"{self.remote_storage.rstrip('/')}/{name}" if self.remote_storage else None
        return RayRunner(
            address=self.address, remote_storage=remote, check_resources=self.check_resources, gpu_probe=self.gpu_probe
        )

    def push_results(self, out: Path) -> None:
        """Copy the driver's results next to the run folders in remote storage (when there is one)."""
        if self.remote_storage:
            RemoteRuns(self.remote_storage).push_results(out)

    def run(self, trials: list[TrialSpec], out: Path, spec: BenchmarkSpec) -> None:
        """Run planned trials as one Tune experiment; every outcome lands in the results store."""
        by_id = {t.trial_id: t for t in trials}
        callback = ResultsCallback(
            ResultsStore(out),
            spec,
            Progress.of(out, spec.name, trials),
            describe=lambda trial: by_id[trial.config["trial"]["trial_id"]],
            fetch=_fetcher(out, self.remote_storage),
        )
        tuner = raytune.Tuner(
            raytune.with_resources(benchmark_trainable, spec.resources.as_ray()),
            param_space={
                "trial": raytune.grid_search([t.to_dict() for t in trials]),
                "out": str(out),
                "storage": self.remote_storage,
            },
            # Reused actors keep torch, the decoded dataset and the OE pool loaded between trials:
            # a fresh worker process per trial costs seconds of imports alone.
            tune_config=raytune.TuneConfig(
                reuse_actors=True, trial_dirname_creator=lambda t: t.config["trial"]["trial_id"]
            ),
            run_config=_run_config(out, spec.name, spec.max_failures, [callback], self.remote_storage),
        )
        tuner.fit()

    def run_together(self, parts: list[BenchmarkTrials], root: Path, name: str) -> None:
        """Several benchmarks' trials as one Tune experiment; every outcome lands in its own benchmark's store.

        Each part's run folders stay under its own results folder (and, with remote storage, under
        ``<remote>/<benchmark name>``, as :meth:`for_subfolder` has it); each trial asks for its own
        benchmark's resources. Ray's experiment state goes to ``root/ray``.
        """
        retries = sorted({part.spec.max_failures for part in parts})
        if len(retries) != 1:
            raise ValueError(f"the benchmarks of one run share one max_failures, got {retries}")
        callbacks, resources, jobs = {}, {}, []
        for part in parts:
            folder, storage = str(part.out), self.for_subfolder(part.spec.name).remote_storage
            callbacks[folder] = ResultsCallback(
                ResultsStore(part.out),
                part.spec,
                Progress.of(part.out, part.spec.name, part.trials, named=True),
                describe=_SuiteTrials(part.trials),
                fetch=_fetcher(part.out, storage),
            )
            ask = part.spec.resources.as_ray()
            resources[folder] = raytune.PlacementGroupFactory([{"CPU": ask["cpu"], "GPU": ask["gpu"]}])
            jobs += [{"trial": t.to_dict(), "out": folder, "storage": storage, "benchmark": part.spec.name}
                     for t in part.trials]  # fmt: skip
        tuner = raytune.Tuner(
            raytune.with_resources(together_trainable, lambda config: resources[config["job"]["out"]]),
            param_space={"job": raytune.grid_search(jobs)},
            tune_config=raytune.TuneConfig(reuse_actors=True, trial_dirname_creator=_suite_dirname),
            run_config=_run_config(root, name, retries[0], [RoutedCallback(callbacks)], self.remote_storage),
        )
        tuner.fit()

    def max_concurrent(self, resources: Resources) -> int:
        """How many trials the cluster's CPUs hold at once."""
        return max(1, int(sum(n.get("CPU", 0) for n in node_resources()) // resources.cpus_per_trial))

    def search(
        self,
        spec: BenchmarkSpec,
        base: RunConfig,
        out: Path,
        *,
        n_trials: int,
        storage_url: str,
        sampler_seed: int,
        max_concurrent: int,
    ) -> None:
        """Run ``n_trials`` Optuna-sampled trials with early stopping; PRUNED trials are recorded as such."""
        remote = f"{self.remote_storage.rstrip('/')}/search" if self.remote_storage else None
        # The search trials' run folders live in search/ beside their store (whose rows point there).
        constants = {"base": base.to_flat(), "out": str(out / "search"), "storage": remote}
        searcher = _searcher(spec, base, out, constants, storage_url=storage_url, sampler_seed=sampler_seed)

        def describe(trial: Any) -> TrialSpec:
            planned = search_trial(base, {k: v for k, v in trial.config.items() if k not in constants})
            return dataclasses.replace(planned, class_name=spec.class_name(planned.normal_class))

        search_class = base.data.normal_class
        callback = ResultsCallback(
            ResultsStore(out / "search"),
            spec,
            Progress(out / "search", benchmark=spec.name, totals={search_class: n_trials}),
            describe=describe,
            fetch=_fetcher(out / "search", remote),
        )
        tuner = raytune.Tuner(
            raytune.with_resources(search_trainable, spec.resources.as_ray()),
            tune_config=raytune.TuneConfig(
                metric="val_auc",
                mode="max",
                search_alg=searcher,
                scheduler=_scheduler(spec.search, base.optim.epochs),
                num_samples=n_trials,
                max_concurrent_trials=max_concurrent,
                reuse_actors=True,
            ),
            run_config=_run_config(out, spec.name, spec.max_failures, [callback], remote),
        )
        tuner.fit()
