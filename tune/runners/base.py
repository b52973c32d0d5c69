"""What every runner shares: the runner protocol and how a trial's outcome becomes its record."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Protocol

from fcdd.metrics import RunMetrics
from tune.plan import TrialSpec
from tune.spec import BenchmarkSpec
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
        run_dir=str(trial.run_dir(out)),
        runner=runner,
        cpus=spec.resources.cpus_per_trial,
        gpus=spec.resources.gpus_per_trial,
        node=node or socket.gethostname(),
        node_id=node_id,
        started_at=iso(started),
        finished_at=datetime.now(UTC).isoformat(),
        metrics=metrics,
        config=trial.config,
        **versions(),
    )


def error_line(error: BaseException) -> str:
    """``ExceptionType: first line of its message``, as a failed record's ``error``."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__
