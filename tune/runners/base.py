"""What every runner shares: the runner protocols with their optional capabilities, and how a trial's
outcome becomes its record."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Protocol, runtime_checkable

from fcdd.config import RunConfig
from fcdd.metrics import RunMetrics
from tune.plan import TrialSpec
from tune.snapshots import SNAPSHOT_FILE, folder_bytes
from tune.spec import BenchmarkSpec, Resources
from tune.store import TrialRecord


class Runner(Protocol):
    """Executes trials of a spec and appends one record per trial to ``<out>/trials.jsonl``."""

    name: str

    def prepare(self, spec: BenchmarkSpec) -> None:
        """Checks and set-up before anything is written (Ray: connect, can some node hold a trial?)."""
        ...

    def run(self, trials: list[TrialSpec], out: Path, spec: BenchmarkSpec) -> None:
        """Run ``trials``, each continuing from the checkpoint in its run folder where there is one."""
        ...


# Optional capabilities: the experiment asks a runner for them with ``isinstance`` (the serial
# runner has neither: it shares no GPU and keeps its results where it writes them).
@runtime_checkable
class MeasuresGpus(Protocol):
    """A runner that shares GPUs among trials, and so measures ``--gpus-per-trial auto`` before they start."""

    def resolve_gpus(self, spec: BenchmarkSpec, trial: str, config: RunConfig) -> BenchmarkSpec:
        """The spec with the GPU share measured by probing ``config`` (``trial``, in words)."""
        ...


@runtime_checkable
class PushesResults(Protocol):
    """A runner whose run folders live elsewhere (remote storage): the driver's results go there too."""

    def push_results(self, out: Path) -> None:
        """Copy the results written in ``out`` (store, tables, report) next to the run folders."""
        ...


@dataclass(frozen=True)
class BenchmarkTrials:
    """One benchmark's share of a run over several (a suite): its trials to run, results folder and spec."""

    trials: list[TrialSpec]
    out: Path
    spec: BenchmarkSpec


@runtime_checkable
class RunsTogether(Protocol):
    """A runner that fans the trials of several benchmarks out together (Ray: one Tune run for a whole suite).

    Each benchmark keeps its own results folder, store and progress; every trial gets its own
    benchmark's resources. A runner without this capability runs the benchmarks one after another.
    """

    def run_together(self, parts: list[BenchmarkTrials], root: Path, name: str) -> None:
        """Run every part's trials in one run named ``name``, its own state in ``root`` (the suite's folder).

        The parts share one retry count (``spec.max_failures``): one run retries every trial alike.
        """
        ...

    def for_subfolder(self, name: str) -> Runner:
        """The same runner for the sub-folder ``name`` of the results (a suite's benchmark)."""
        ...


class SearchRunner(Runner, Protocol):
    """A runner that can also run `fcdd tune`'s search: Optuna-sampled trials with early stopping."""

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
        """Run ``n_trials`` trials sampled from ``spec.search.space`` around ``base`` into ``<out>/search``."""
        ...

    def max_concurrent(self, resources: Resources) -> int:
        """How many trials of ``resources`` run at once (the search's default concurrency)."""
        ...

    def for_subfolder(self, name: str) -> SearchRunner:
        """The same runner for the sub-folder ``name`` of the results (the best setting's reruns)."""
        ...


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """The package versions a record names (read from the installed metadata, nothing imported)."""
    return {f"{name}_version": _version(name) for name in ("fcdd", "torch", "ray")}


def iso(timestamp: float | None) -> str | None:
    """A POSIX time as ISO 8601 in UTC."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def make_record(
    trial: TrialSpec,
    spec: BenchmarkSpec,
    out: Path,
    *,
    runner: str,
    metrics: RunMetrics | None,
    error: str | None,
    attempt_seconds: list[float],
    status: str | None = None,
    started: float | None,
    node: str | None = None,
    node_id: str | None = None,
) -> TrialRecord:
    """The record of a trial that ended: ok with ``metrics``, else failed (or ``status``) with ``error``."""
    config = trial.run_config()
    run_dir = trial.run_dir(out)
    return TrialRecord(
        trial_id=trial.trial_id,
        benchmark=spec.name,
        setting=trial.setting,
        dataset=config.data.dataset,
        normal_class=trial.normal_class,
        class_name=trial.class_name or spec.class_name(trial.normal_class),
        seed=trial.seed,
        status=status or ("ok" if metrics is not None else "failed"),
        error=None if metrics is not None else error or "unknown error",
        attempts=len(attempt_seconds),
        attempt_seconds=tuple(attempt_seconds),
        trial_seconds=float(sum(attempt_seconds)),
        run_dir=str(run_dir),
        runner=runner,
        cpus=spec.resources.cpus_per_trial,
        gpus=spec.resources.gpus_per_trial,
        node=node or socket.gethostname(),
        node_id=node_id,
        started_at=iso(started),
        finished_at=datetime.now(UTC).isoformat(),
        metrics=metrics,
        config=trial.config,
        run_bytes=folder_bytes(run_dir),  # what the trial left on disk: the cost table's disk per trial
        snapshot_kept=(run_dir / SNAPSHOT_FILE).is_file(),
        **versions(),
    )


def error_line(error: BaseException) -> str:
    """``ExceptionType: first line of its message``, as a failed record's ``error``."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__
