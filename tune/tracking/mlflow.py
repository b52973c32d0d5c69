"""``--mlflow URI``: every trial of a results folder as an MLflow run, nested under one parent run.

The only module that imports MLflow, and only inside functions, so ``fcdd --help`` never loads it.
It uses :class:`mlflow.tracking.MlflowClient` (no fluent, process-global active run).

* One experiment per benchmark or search name; one parent run per results folder (a benchmark, a
  search, or the best setting's reruns of a search, which nest under the search's parent).
* Each record of the folder's :class:`~tune.store.ResultsStore` becomes a child run: the flat
  config as params, the store's own columns as tags, ``history.json``'s per-epoch numbers as
  metrics with ``step=epoch``, the final :class:`~fcdd.metrics.RunMetrics` at the last epoch's
  step, the run's figures and JSON files as artifacts, status FINISHED (ok, pruned) or FAILED.
* ``<out>/mlflow.json`` remembers, per tracking URI, the experiment, the parent run and which
  record each trial was logged from: a resumed run reuses the parent and logs only what is new.
  A trial whose store record changed (a failed trial rerun) replaces its earlier run; a run left
  half-logged by a killed driver is deleted and logged again.
* While the runner runs, a daemon thread logs newly finished trials every :data:`SYNC_SECONDS`;
  an MLflow failure then is a warning, retried at the next sync, never the benchmark's end.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fcdd.artifacts import write_json
from fcdd.engine.fit import EpochReport
from tune.outdir import staging_dir
from tune.preflight import redacted
from tune.store import ResultsStore, TrialRecord

log = logging.getLogger(__name__)

MLFLOW_FILE = "mlflow.json"  # in the results folder: per tracking URI, the parent run and the logged trials
SYNC_SECONDS = 15.0  # how often finished trials are logged while the runner runs
# history.json's per-epoch numbers (fcdd.engine.fit.EpochReport's fields, less the bookkeeping).
EPOCH_METRICS = tuple(
    f.name for f in dataclasses.fields(EpochReport) if f.name not in ("epoch", "epochs", "seconds", "images_per_second")
)
ARTIFACTS = ("roc.png", "heatmaps_test.png", "heatmaps_train.png", "loss.png", "metrics.json", "config.json")
# MLflow's limits: 100 params and 1000 metrics per log_batch, 6000 characters per param value.
PARAMS_PER_BATCH, METRICS_PER_BATCH, MAX_PARAM_CHARS, MAX_TAG_CHARS = 100, 1000, 6000, 5000
# Requests of the sync thread: a few quick retries, then the next sync tries again (the user's env wins).
_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def _client(uri: str) -> Any:
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # no "View run at" line per run
    for name, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


@contextmanager
def _quick_requests() -> Iterator[None]:
    """The pre-flight asks once, without retries, and gives up after a few seconds."""
    saved = {name: os.environ.get(name) for name in _HTTP_DEFAULTS}
    os.environ.update({"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _reason(error: BaseException) -> str:
    text = str(error)
    errno = re.search(r"\[Errno -?\d+\] ([^'\"()]+)", text)
    if errno:
        return errno.group(1).strip()
    if "timed out" in text.lower():
        return "timed out"
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return first[:200] + ("..." if len(first) > 200 else "")


def _unusable(uri: str, error: BaseException) -> str:
    shown, text = redacted(uri), str(error)
    if "MLFLOW_ALLOW_FILE_STORE" in text:
        return (
            f"--mlflow {shown}: MLflow refuses a folder as its tracking store (its file store is in maintenance mode); "
            "pass sqlite:///path/to/mlflow.db or a server's http:// URI, or set MLFLOW_ALLOW_FILE_STORE=true"
        )
    if "unsupported URI" in text:
        return (
            f"--mlflow {shown}: MLflow does not know this kind of tracking URI; "
            "pass a server's http://HOST:PORT or sqlite:///path/to/mlflow.db"
        )
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        host, port = parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
        return (
            f"--mlflow {shown}: cannot reach the tracking server ({_reason(error)}); "
            f"start it (mlflow server --host {host} --port {port}) or fix the URI"
        )
    return f"--mlflow {shown}: the tracking store does not answer ({_reason(error)}); fix the URI"


def _read_state(out: Path) -> dict[str, Any]:
    path = out / MLFLOW_FILE
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        value = error
    if not isinstance(value, dict) or not isinstance(value.get("servers", {}), dict):
        raise ValueError(
            f"{path} cannot be read; delete it (its trials are then logged to MLflow again) or pass another --out"
        )
    return value


def check_tracking(uri: str, *folders: Path) -> None:
    """Pre-flight of ``--mlflow``: MLflow installed, the tracking store answering, each folder's record readable.

    Raises ValueError with one line saying what to do. Writes nothing (a ``sqlite:`` store is
    created by MLflow where the URI points, as it would be by the first run).
    """
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise ValueError("--mlflow needs MLflow: pip install 'fcdd[tracking]'") from None
    for folder in folders:
        _read_state(folder)
    try:
        client = _client(uri)
        with _quick_requests():
            client.search_experiments(max_results=1)
    except Exception as error:
        raise ValueError(_unusable(uri, error)) from None


def _final(out: Path) -> Path:
    """Where the results end up: a restart's staging folder replaces its ``--out`` when done."""
    if out.name.startswith(".") and out.name.endswith(".restart"):
        final = out.parent / out.name[1 : -len(".restart")]
        if staging_dir(final) == out:
            return final
    return out


def _ms(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: Any, limit: int) -> str:
    """As MLflow writes a param (``str``; lists and mappings as JSON), cut to ``limit`` characters."""
    text = json.dumps(value, default=str) if isinstance(value, list | tuple | dict) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_name(record: TrialRecord) -> str:
    """``<setting>/<class>/seed<seed>``; a search trial (its own setting) by its trial id."""
    if record.setting.startswith("search/"):
        return record.trial_id
    return f"{record.setting}/{record.class_name}/seed{record.seed}"


def _history(run_dir: Path | None) -> list[dict[str, Any]]:
    if run_dir is None or not (run_dir / "history.json").is_file():
        return []
    try:
        history = json.loads((run_dir / "history.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    return [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []


def trial_metrics(record: TrialRecord, run_dir: Path | None) -> list[tuple[str, float, int, int]]:
    """(key, value, timestamp ms, step) of a trial: every epoch of ``history.json``, then the final metrics.

    The final numbers sit at the last epoch's step (a key both have, ``val_auc``, once there).
    """
    values: dict[tuple[str, int], tuple[float, int]] = {}
    clock = _ms(record.started_at) or int(time.time() * 1000)
    last = 0
    for entry in _history(run_dir):
        epoch = entry.get("epoch")
        if not isinstance(epoch, int) or isinstance(epoch, bool):
            continue
        clock += int(1000 * (_number(entry.get("seconds")) or 0.0))
        last = max(last, epoch)
        for key in EPOCH_METRICS:
            value = _number(entry.get(key))
            if value is not None:
                values[(key, epoch)] = (value, clock)
    if record.metrics is not None:
        step, end = record.metrics.epochs or last, _ms(record.finished_at) or clock
        for key, raw in record.metrics.to_dict().items():
            value = _number(raw)
            if value is not None:
                values[(key, step)] = (value, end)
    return [(key, value, stamp, step) for (key, step), (value, stamp) in values.items()]


class MlflowLogger:
    """Mirrors the results store of ``out`` into MLflow at ``uri`` (see the module docstring).

    Nothing is sent before the first :meth:`sync`; ``parent_run_id`` nests this folder's parent
    run under another one (the best setting's reruns under their search).
    """

    def __init__(
        self, uri: str, out: str | Path, *, experiment: str, run_name: str, parent_run_id: str | None = None
    ) -> None:
        self.uri = uri.rstrip("/") if urlsplit(uri).scheme in ("http", "https") else uri
        self.out = Path(out)
        self.store = ResultsStore(self.out)
        self.experiment = experiment
        self.run_name = run_name
        self.nest_under = parent_run_id
        self._key = redacted(self.uri)  # the file never holds a password
        self._file = _read_state(self.out)
        self._state: dict[str, Any] = dict((self._file.get("servers") or {}).get(self._key) or {})
        self._state.setdefault("trials", {})
        self._client: Any = None
        self._lock = threading.Lock()
        self._failing = False
        self._ready = False  # experiment and parent run checked (or made) once

    @property
    def path(self) -> Path:
        return self.out / MLFLOW_FILE

    def _save(self) -> None:
        self._state["uri"] = self._key
        servers = dict(self._file.get("servers") or {})
        servers[self._key] = self._state
        self._file = {"servers": servers}
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.path, self._file)

    def _connect(self) -> Any:
        """The client, with this folder's experiment and a RUNNING parent run (made or reused)."""
        from mlflow.exceptions import MlflowException

        if self._client is None:
            self._client = _client(self.uri)
        client = self._client
        if self._ready:
            return client
        parent = None
        if self._state.get("parent_run_id"):
            try:
                parent = client.get_run(self._state["parent_run_id"])
            except MlflowException as error:
                if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
            if parent is not None and parent.info.lifecycle_stage != "active":
                parent = None
            if parent is None:  # deleted on the server: start over there
                log.warning("MLflow run %s of %s is gone; logging every trial again", self._state["parent_run_id"],
                            self.out)  # fmt: skip
                self._state = {"trials": {}}
        if parent is None:
            experiment = client.get_experiment_by_name(self.experiment)
            if experiment is None:
                experiment_id = client.create_experiment(self.experiment)
            else:
                experiment_id = experiment.experiment_id
                if experiment.lifecycle_stage != "active":
                    client.restore_experiment(experiment_id)
            tags = {"fcdd.out": str(_final(self.out))}
            if self.nest_under:
                tags["mlflow.parentRunId"] = self.nest_under
            parent = client.create_run(experiment_id, tags=tags, run_name=self.run_name)
            self._state.update(experiment_id=experiment_id, parent_run_id=parent.info.run_id, trials={})
            self._save()
            log.info("MLflow: run %s (%s) in experiment %s at %s", parent.info.run_id, self.run_name,
                     self.experiment, self._key)  # fmt: skip
        elif parent.info.status != "RUNNING":
            client.update_run(parent.info.run_id, status="RUNNING")
        self._ready = True
        return client

    @property
    def parent_run_id(self) -> str | None:
        """This folder's parent run (made now if need be); None when MLflow cannot be reached."""
        with self._lock:
            if not self._ready:
                try:
                    self._connect()
                except Exception as error:
                    log.warning("MLflow at %s: %s; runs logged later are not nested", self._key, _reason(error))
                    return None
            return self._state.get("parent_run_id")

    @property
    def healthy(self) -> bool:
        """Whether the last sync worked."""
        return not self._failing

    def sync(self) -> int:
        """Log every store record not logged yet; return how many. MLflow's errors propagate."""
        with self._lock:
            client = self._connect()
            logged = 0
            for record in self.store.records() if self.store.path.exists() else []:
                entry = self._state["trials"].get(record.trial_id)
                if entry and entry.get("complete") and entry.get("finished_at") == record.finished_at:
                    continue
                if entry:  # half-logged by a killed driver, or an earlier outcome of a rerun trial
                    self._delete(client, entry["run_id"])
                self._log_trial(client, record)
                logged += 1
            return logged

    def sync_quietly(self) -> int:
        """:meth:`sync`, with a failure a warning (once per streak of failures): the next sync retries."""
        try:
            logged = self.sync()
        except Exception as error:
            if not self._failing:
                log.warning("MLflow at %s failed (%s); trying again at the next sync", self._key, _reason(error))
            self._failing = True
            return 0
        if self._failing:
            log.info("MLflow at %s answers again", self._key)
        self._failing = False
        return logged

    def finish(self, status: str = "FINISHED") -> None:
        """End the parent run (FINISHED, FAILED or KILLED); a failure is only a warning."""
        with self._lock:
            if not self._state.get("parent_run_id") or self._client is None:
                return
            try:
                self._client.set_terminated(self._state["parent_run_id"], status=status)
            except Exception as error:
                log.warning("MLflow at %s: cannot end run %s (%s)", self._key, self._state["parent_run_id"],
                            _reason(error))  # fmt: skip

    @staticmethod
    def _delete(client: Any, run_id: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            client.delete_run(run_id)
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise

    def _relative(self, run_dir: str) -> str:
        """A run folder relative to the results folder (true after a restart's swap or a move, too)."""
        try:
            return Path(run_dir).relative_to(self.out).as_posix()
        except ValueError:
            return run_dir

    def _run_dir(self, record: TrialRecord) -> Path | None:
        recorded = Path(record.run_dir) if record.run_dir else None
        if recorded is not None and recorded.is_dir():
            return recorded
        # The folder was moved or copied since (or a restart's staging folder swapped in).
        here = self.out / "runs" / record.setting / f"normal_{record.normal_class}" / f"it_{record.seed}"
        return here if here.is_dir() else None

    def _log_trial(self, client: Any, record: TrialRecord) -> None:
        from mlflow.entities import Metric, Param

        run_dir = self._run_dir(record)
        tags = {
            "mlflow.parentRunId": self._state["parent_run_id"],
            "trial_id": record.trial_id,
            "benchmark": record.benchmark,
            "setting": record.setting,
            "class_name": record.class_name,
            "normal_class": str(record.normal_class),
            "seed": str(record.seed),
            "status": record.status,
            "runner": record.runner,
            "attempts": str(record.attempts),
            "run_dir": self._relative(record.run_dir),
        }
        if record.node:
            tags["node"] = record.node
        if record.status == "pruned":
            tags["pruned"] = "true"
        if record.error:
            tags["error"] = _text(record.error, MAX_TAG_CHARS)
        run = client.create_run(
            self._state["experiment_id"],
            start_time=_ms(record.started_at),
            tags={k: _text(v, MAX_TAG_CHARS) for k, v in tags.items()},
            run_name=run_name(record),
        )
        run_id = run.info.run_id
        entry = {"run_id": run_id, "finished_at": record.finished_at, "complete": False}
        self._state["trials"][record.trial_id] = entry
        self._save()  # before anything else: a driver killed now leaves a run the next sync replaces
        params = [Param(key, _text(value, MAX_PARAM_CHARS)) for key, value in sorted(record.config.items())]
        for start in range(0, len(params), PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[start : start + PARAMS_PER_BATCH])
        metrics = [Metric(key, value, stamp, step) for key, value, stamp, step in trial_metrics(record, run_dir)]
        for start in range(0, len(metrics), METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[start : start + METRICS_PER_BATCH])
        for name in ARTIFACTS:
            if run_dir is not None and (run_dir / name).is_file():
                client.log_artifact(run_id, str(run_dir / name))
        status = "FAILED" if record.status == "failed" else "FINISHED"
        client.set_terminated(run_id, status=status, end_time=_ms(record.finished_at))
        entry["complete"] = True
        self._save()


def _sync_loop(logger: MlflowLogger, stop: threading.Event, interval: float) -> None:
    while True:  # at once (the parent run shows up when the benchmark starts), then every interval
        logger.sync_quietly()
        if stop.wait(interval):
            return


@contextmanager
def tracking(
    uri: str | None,
    out: str | Path,
    *,
    experiment: str,
    run_name: str,
    parent_run_id: str | None = None,
    interval: float = SYNC_SECONDS,
) -> Iterator[MlflowLogger | None]:
    """Mirror ``out``'s store to MLflow while the block runs (nothing at all when ``uri`` is None).

    Finished trials are logged every ``interval`` seconds and once more at the end; then the
    parent run ends FINISHED (FAILED when the block raised). Ctrl-C or SIGTERM leave it RUNNING:
    the resumed run continues it.
    """
    if uri is None:
        yield None
        return
    logger = MlflowLogger(uri, out, experiment=experiment, run_name=run_name, parent_run_id=parent_run_id)
    stop = threading.Event()
    thread = threading.Thread(target=_sync_loop, args=(logger, stop, interval), name="mlflow-sync", daemon=True)
    thread.start()
    try:
        yield logger
    except Exception:
        stop.set()
        thread.join()
        logger.sync_quietly()
        logger.finish("FAILED")
        raise
    except BaseException:  # interrupted: stop at once; the resumed run logs the rest
        stop.set()
        raise
    stop.set()
    thread.join()
    logger.sync_quietly()
    if logger.healthy:  # else it stays RUNNING: the next run with this folder logs what is missing
        logger.finish("FINISHED")
